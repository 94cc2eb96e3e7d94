// The store on Postgres (gateway.store: postgres://...): the same repository suite and
// chain tamper scenarios as SQLite, against a fresh database on the local server, plus
// two gateway replicas appending to one chain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/store/index.ts';
import { openAuditLog, verifyAudit } from '../../src/audit/index.ts';
import { storeSuite } from './store-suite.ts';
import { chainSuite, type Fresh } from '../unit/audit-chain-suite.ts';
import { legacySuite } from '../unit/audit-legacy-suite.ts';

const ADMIN = process.env.WARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `warden_test_${randomBytes(6).toString('hex')}`;
const url = (() => {
  const u = new URL(ADMIN);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
let root = '';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'warden-store-pg-'));
  await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
});
after(async () => {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  if (root) await rm(root, { recursive: true, force: true });
});

storeSuite(() => ({ name: 'postgres', store: url, dataDir: join(root, 'repo') }));

// The chain is one per database: each scenario empties it and takes a new data dir.
let n = 0;
async function freshPg(): Promise<Fresh> {
  const dataDir = join(root, `chain-${++n}`);
  const store = await openStore({ store: url, dataDir });
  await store.db.deleteFrom('events').execute();
  await store.db.deleteFrom('checkpoints').execute();
  await store.db.deleteFrom('signed_heads').execute();
  await store.db.deleteFrom('sessions').execute();
  await store.db.updateTable('chain_head').set({ seq: 0, hash: '0'.repeat(64) }).where('id', '=', 1).execute();
  return { store, dataDir, cleanup: () => store.close() };
}

chainSuite({ name: 'postgres', fresh: freshPg });
legacySuite({ name: 'postgres', fresh: freshPg });

describe('Postgres store', () => {
  it('is a Postgres store and keeps seq and times as numbers', async () => {
    const f = await freshPg();
    try {
      assert.equal(f.store.kind, 'postgres');
      const log = await openAuditLog(f.store, { dataDir: f.dataDir });
      const e = await log.append({ type: 'auth.ok', data: {} });
      await log.close();
      const row = await f.store.db.selectFrom('events').select(['seq']).where('seq', '=', e.seq).executeTakeFirstOrThrow();
      assert.equal(typeof row.seq, 'number');
    } finally {
      await f.cleanup();
    }
  });

  it('two replicas (two pools, one data dir key) append to one gap-free chain', async () => {
    const f = await freshPg();
    const other = await openStore({ store: url, dataDir: f.dataDir });
    try {
      const a = await openAuditLog(f.store, { dataDir: f.dataDir });
      const b = await openAuditLog(other, { dataDir: f.dataDir });
      const run = (log: typeof a, who: string) =>
        Promise.all(Array.from({ length: 8 }, async (_, s) => {
          for (let i = 0; i < 25; i++) await log.append({ type: 'command', sessionId: `${who}${s}`, data: { who, i } }, { durable: i % 2 === 0 });
        }));
      await Promise.all([run(a, 'a'), run(b, 'b')]);
      await a.close();
      await b.close();
      const v = await verifyAudit(f.store, f.dataDir);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.count, 400);
      assert.ok(v.heads >= 2, `one signed head per group commit, both writers in one chain of heads: ${v.heads}`);
    } finally {
      await other.close();
      await f.cleanup();
    }
  });

  it('names the store without its password when it cannot connect', async () => {
    await assert.rejects(openStore({ store: 'postgres://postgres:hunter2@127.0.0.1:1/x', dataDir: root }), (e: Error) => {
      assert.match(e.message, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/x/);
      assert.ok(!e.message.includes('hunter2'));
      return true;
    });
  });
});
