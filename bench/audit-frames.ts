// What one strict-mode commit costs the SQLite audit writer, on the writer's own code
// (SqliteChain, no thread): WAL frames per commit by table and index (each frame is
// one more page written and synced), and CPU per commit with and without its fsync.
// The pattern is strict recording at 1 client: every commit holds the result of the
// last command and the next command of one session. Not a test: prints figures, once
// with a head signed per commit (signEvery 0, as before it existed) and once with
// --sign-every (default 250 ms, gateway.audit.signEvery's default), in the same run.
//   npx tsx bench/audit-frames.ts [--commits 300] [--sessions 1] [--sign-every 250]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { generateKeyPairSync } from 'node:crypto';
import { openStore } from '../src/store/index.ts';
import { SqliteChain } from '../src/audit/sqlite-chain.ts';
import type { BatchItem } from '../src/audit/chain.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1] : def);
};
const commits = arg('commits', '300');
const sessions = arg('sessions', '1');
const signEvery = arg('sign-every', '250');
const WAL_FRAME = 24 + 4096; // frame header + one page (the store's page size)

const item = (type: string, s: number, data: object): BatchItem => ({ type, sessionId: `bench-${s}`, actor: 'bench', dataJson: JSON.stringify(data) });
// One group commit: each session's last result and next command.
const batch = (i: number): BatchItem[] =>
  Array.from({ length: sessions }, (_, s) => [
    item('result', s, { commandId: `bench-${s}:${i - 1}`, rowCount: 1, durationMs: 0.1, tag: 'SELECT 1' }),
    item('command', s, { commandId: `bench-${s}:${i}`, text: 'SELECT abalance FROM pgbench_accounts WHERE aid = 4711;', decision: 'allow', via: 'simple' }),
  ]).flat();

for (const signEveryMs of [0, signEvery]) await measure(signEveryMs);

async function measure(signEveryMs: number): Promise<void> {
const dir = mkdtempSync(join(tmpdir(), 'warden-bench-frames-'));
try {
  const store = await openStore({ store: 'sqlite', dataDir: dir });
  await store.close();
  const file = join(dir, 'warden.db');
  const { privateKey } = generateKeyPairSync('ed25519');
  const chain = new SqliteChain({ file, privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, signEveryMs });
  for (let s = 0; s < sessions; s++) chain.write([item('session.start', s, { connection: 'bench', protocol: 'postgres', identity: { name: 'bench' }, clientAddr: '127.0.0.1' })], true);

  // CPU per commit, durable (fsync at COMMIT, as strict recording) and not (async).
  let i = 1;
  const cpu = (durable: boolean): number => {
    const c0 = process.cpuUsage();
    for (let n = 0; n < commits; n++) chain.write(batch(i++), durable);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / commits;
  };
  cpu(false); // warm up (JIT, file growth)
  const lazy = cpu(false);
  const durable = cpu(true);

  // Frames: an empty WAL, no checkpoint while counting, then read each frame's page number.
  const side = new DatabaseSync(file);
  side.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  (chain as unknown as { db: DatabaseSync }).db.exec('PRAGMA wal_autocheckpoint = 0');
  for (let n = 0; n < commits; n++) chain.write(batch(i++), true);
  const wal = readFileSync(`${file}-wal`);
  const names = new Map<number, string>();
  for (const r of side.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[]) names.set(r.pageno, r.name);
  const by = new Map<string, number>();
  let frames = 0;
  let commitFrames = 0;
  for (let off = 32; off + WAL_FRAME <= wal.length; off += WAL_FRAME) {
    const page = wal.readUInt32BE(off);
    const name = page === 1 ? 'page 1 (header)' : (names.get(page) ?? 'freelist');
    by.set(name, (by.get(name) ?? 0) + 1);
    frames++;
    if (wal.readUInt32BE(off + 4) !== 0) commitFrames++;
  }
  side.close();
  chain.close();
  const per = (n: number) => (n / commitFrames).toFixed(2);
  const heads = (new DatabaseSync(file).prepare('SELECT count(*) AS n FROM signed_heads').get() as { n: number }).n;
  console.log(`signEvery ${signEveryMs} ms: ${heads} signed heads over ${i - 1 + sessions} commits`);
  console.log(`${sessions} session(s) per commit, ${commits} commits: ${per(frames)} WAL frames per commit`);
  for (const [name, n] of [...by].sort((a, b) => b[1] - a[1])) console.log(`  ${name.padEnd(18)} ${per(n)}`);
  console.log(`CPU per commit: ${durable.toFixed(0)} µs durable (synchronous FULL), ${lazy.toFixed(0)} µs without the fsync`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
}
