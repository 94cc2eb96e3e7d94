// Audit log throughput: N concurrent appenders each awaiting a durable append (as strict
// recording does before a command may run), against SQLite and Postgres, measured in
// the same run. Also the session pipeline's mix: a durable command then a non-durable
// result per iteration, and what the signed head of every group commit costs (one
// Ed25519 signature per commit). SQLite runs twice, a head per commit (signEvery 0) and
// with gateway.audit.signEvery's default; CPU per commit is the whole process's (the
// writer thread included). Not a test: prints figures.
//   npx tsx bench/audit.ts [--seconds 3] [--appenders 8] [--pg postgres://postgres@127.0.0.1:5432/postgres]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../src/store/index.ts';
import { openAuditLog, type AuditLog } from '../src/audit/index.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const seconds = Number(arg('seconds', '3'));
const appenders = Number(arg('appenders', '8'));
const adminUrl = arg('pg', 'postgres://postgres@127.0.0.1:5432/postgres');

const command = (s: number, i: number) => ({
  type: 'command',
  sessionId: `bench-${s}`,
  actor: 'bench',
  data: { commandId: `bench-${s}:${i}`, text: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1', params: [String(i)], via: 'extended', decision: 'allow' },
});
const result = (s: number, i: number) => ({
  type: 'result',
  sessionId: `bench-${s}`,
  actor: 'bench',
  data: { commandId: `bench-${s}:${i}`, rowCount: 1, durationMs: 0.1, tag: 'SELECT 1', columns: [{ name: 'abalance', type: 23 }], rows: [['0']] },
});

async function run(log: AuditLog, withResults: boolean): Promise<{ perSec: number; batch: number; commitsPerSec: number; cpuPerCommit: number }> {
  const commits0 = log.commits;
  const cpu0 = process.cpuUsage();
  let events = 0;
  const until = Date.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async (_, s) => {
      for (let i = 0; Date.now() < until; i++) {
        await log.append(command(s, i));
        events++;
        if (withResults) {
          void log.append(result(s, i), { durable: false });
          events++;
        }
      }
    }),
  );
  await log.flush();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const commits = Math.max(1, log.commits - commits0);
  return { perSec: events / secs, batch: events / commits, commitsPerSec: commits / secs, cpuPerCommit: (cpu.user + cpu.system) / commits };
}

async function bench(name: string, store: Store, dataDir: string, signEveryMs?: number): Promise<void> {
  const log = await openAuditLog(store, { dataDir, ...(signEveryMs !== undefined ? { signEveryMs } : {}) });
  await run(log, false); // warm up (JIT, file growth)
  const a = await run(log, false);
  const b = await run(log, true);
  const v0 = performance.now();
  const v = await log.verify();
  const verifyPerSec = v.count / ((performance.now() - v0) / 1000);
  await log.close();
  console.log(
    `${name.padEnd(9)} durable appends, ${appenders} appenders: ${Math.round(a.perSec).toLocaleString('en')} events/s (mean batch ${a.batch.toFixed(1)})` +
      ` | +results: ${Math.round(b.perSec).toLocaleString('en')} events/s (batch ${b.batch.toFixed(1)})` +
      ` | verify ${Math.round(verifyPerSec).toLocaleString('en')} events/s over ${v.count.toLocaleString('en')}, ${v.heads.toLocaleString('en')} heads (${v.ok ? 'ok' : v.problem})`,
  );
  const share = (signUs * a.commitsPerSec) / 1e4;
  console.log(
    `${''.padEnd(9)} ${Math.round(a.commitsPerSec).toLocaleString('en')} group commits/s, ${Math.round(a.cpuPerCommit)} µs CPU per commit (+results: ${Math.round(b.cpuPerCommit)});` +
      ` a head on every one would cost ${signUs.toFixed(1)} µs x commits = ${share.toFixed(1)}% of one core`,
  );
}

// One head signature, as the writers make it (same key type, a body of the same size),
// in CPU time: it is CPU work in the writer thread, and CPU time stays honest on a
// shared machine where wall time includes waiting for a core.
function signingCost(): number {
  const { privateKey } = generateKeyPairSync('ed25519');
  const body = Buffer.from(`warden.audit/v1\n123456\n${'a'.repeat(64)}\nn 12345\nprev ${'b'.repeat(64)}\ntime 2025-01-01T00:00:00.000Z\nkind batch\nkey 0123456789abcdef\n`);
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < 2000; i++) sign(null, body, privateKey);
    const t = process.cpuUsage(t0);
    best = Math.min(best, (t.user + t.system) / 2000);
  }
  return best;
}
const signUs = signingCost();
console.log(`one Ed25519 head signature: ${signUs.toFixed(1)} µs of CPU (best of 5 x 2000)`);

const dir = mkdtempSync(join(tmpdir(), 'warden-bench-audit-'));
try {
  for (const [name, signEveryMs] of [['sqlite/0', 0], ['sqlite', undefined]] as const) {
    const sqlite = await openStore({ store: 'sqlite', dataDir: join(dir, name) });
    await bench(name, sqlite, join(dir, name), signEveryMs);
    await sqlite.close();
  }

  const dbName = `warden_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${dbName}`;
    const store = await openStore({ store: url.toString(), dataDir: join(dir, 'pg') });
    await bench('postgres', store, join(dir, 'pg'));
    await store.close();
  } finally {
    await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
    await admin.end();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
