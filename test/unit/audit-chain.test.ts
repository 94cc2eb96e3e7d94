// The hash chain on the embedded default (SQLite): every tamper scenario of the shared
// suite, plus what only the embedded store has: the writer thread, a second writer on
// the same file (the CLI appending while the gateway runs), in-process and in a child
// process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.ts';
import { openAuditLog, verifyAudit } from '../../src/audit/index.ts';
import { chainSuite, type Fresh } from './audit-chain-suite.ts';
import { legacySuite } from './audit-legacy-suite.ts';

async function freshSqlite(): Promise<Fresh> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warden-audit-'));
  const store = await openStore({ store: 'sqlite', dataDir });
  return {
    store,
    dataDir,
    cleanup: async () => {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

chainSuite({ name: 'sqlite', fresh: freshSqlite });
legacySuite({ name: 'sqlite', fresh: freshSqlite });

describe('audit log on SQLite', () => {
  it('returns each event with its place in the chain', async () => {
    const f = await freshSqlite();
    try {
      const log = await openAuditLog(f.store, { dataDir: f.dataDir });
      const a = await log.append({ type: 'auth.ok', actor: 'alice', data: { how: 'apikey' } });
      const b = await log.append({ type: 'auth.denied', data: { why: 'expired' } }, { durable: false });
      assert.equal(a.seq, 1);
      assert.equal(a.prevHash, '0'.repeat(64));
      assert.equal(b.seq, 2);
      assert.equal(b.prevHash, a.hash);
      assert.equal(b.actor, null);
      assert.match(a.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      await assert.rejects(log.append({ type: 'command', data: { x: NaN } }), /finite/);
      await log.close();
      await assert.rejects(log.append({ type: 'command', data: {} }), /closed/);
      const v = await verifyAudit(f.store, f.dataDir);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.count, 2);
      // the first commit's (over an empty chain, the open beat signs nothing), none for the
      // second (within signEvery of the first), and the one close() signs over both
      assert.equal(v.heads, 2);
      assert.equal(v.newestHead?.kind, 'close');
    } finally {
      await f.cleanup();
    }
  });

  it("interleaves with a second log on the same file (another connection; the CLI's, writing on the caller's thread)", async () => {
    const f = await freshSqlite();
    const other = await openStore({ store: 'sqlite', dataDir: f.dataDir });
    try {
      const gateway = await openAuditLog(f.store, { dataDir: f.dataDir });
      const cli = await openAuditLog(other, { dataDir: f.dataDir, writerThread: 'caller' });
      const run = (log: typeof cli, who: string) =>
        Promise.all(Array.from({ length: 8 }, async (_, s) => {
          for (let i = 0; i < 30; i++) await log.append({ type: 'command', sessionId: `${who}${s}`, data: { who, i } });
        }));
      await Promise.all([run(gateway, 'g'), run(cli, 'c')]);
      await cli.close();
      await gateway.close();
      const v = await verifyAudit(f.store, f.dataDir);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.count, 480);
      const writers = await f.store.db.selectFrom('events').select('data').where('seq', '<=', 480).execute();
      const whos = new Set(writers.map((r) => JSON.parse(r.data).who));
      assert.deepEqual([...whos].sort(), ['c', 'g']);
    } finally {
      await other.close();
      await f.cleanup();
    }
  });

  it('interleaves with a writer in another process', async () => {
    const f = await freshSqlite();
    try {
      const log = await openAuditLog(f.store, { dataDir: f.dataDir });
      const storeUrl = new URL('../../src/store/index.ts', import.meta.url).href;
      const auditUrl = new URL('../../src/audit/index.ts', import.meta.url).href;
      const script = `
        const { openStore } = await import(${JSON.stringify(storeUrl)});
        const { openAuditLog } = await import(${JSON.stringify(auditUrl)});
        const store = await openStore({ store: 'sqlite', dataDir: process.env.DIR });
        const log = await openAuditLog(store, { dataDir: process.env.DIR });
        await Promise.all(Array.from({ length: 4 }, async (_, s) => {
          for (let i = 0; i < 50; i++) await log.append({ type: 'token.created', actor: 'cli', data: { s, i } });
        }));
        await log.close();
        await store.close();`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, DIR: f.dataDir },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      // Keep appending until the child is done, so the two really overlap.
      let mine = 0;
      let done = false;
      void exited.then(() => (done = true));
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (!done || mine < 100) {
          await log.append({ type: 'command', actor: 'gateway', data: { n: mine++ } });
        }
      }));
      assert.equal(await exited, 0);
      await log.close();
      const v = await verifyAudit(f.store, f.dataDir);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.count, mine + 200);
    } finally {
      await f.cleanup();
    }
  });
});
