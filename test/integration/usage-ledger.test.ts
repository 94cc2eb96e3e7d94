// The usage ledger's holds under concurrency, on the embedded SQLite store and on Postgres
// with two stores on one database (two gateway replicas): however many requests race for
// the last tokens, the held total never passes the limit, and exactly as many get in as fit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/index.ts';
import { UsageLedger, nextMidnight, utcDay } from '../../src/usage/ledger.ts';
import { UsageBatcher } from '../../src/usage/batcher.ts';

const ADMIN = process.env.WARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `warden_usage_${randomBytes(6).toString('hex')}`;
const pgUrl = (() => {
  const u = new URL(ADMIN);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
let root = '';

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'warden-usage-'));
  await admin(`CREATE DATABASE ${dbName}`);
});
after(async () => {
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  if (root) await rm(root, { recursive: true, force: true });
});

const alice = { key: 'apikey:a1', name: 'alice' };
const bob = { key: 'apikey:b1', name: 'bob' };

function suite(name: string, open: () => Promise<Store[]>) {
  describe(`usage ledger on ${name}`, () => {
    let stores: Store[] = [];
    let ledgers: UsageLedger[] = [];
    before(async () => {
      stores = await open();
      ledgers = stores.map((s) => new UsageLedger(s.db));
    });
    after(async () => {
      for (const s of stores) await s.close();
    });

    it('40 racing holds of 100 against a limit of 1000: exactly 10 get in, and the held total is the limit', async () => {
      const holds = await Promise.all(Array.from({ length: 40 }, (_, i) => ledgers[i % ledgers.length]!.reserve('race', i % 2 ? alice : bob, 100, { tokensPerDay: 1000 })));
      const ok = holds.filter((h) => h.ok);
      assert.equal(ok.length, 10);
      const rows = await ledgers[0]!.list({ connection: 'race' });
      assert.equal(rows.reduce((n, r) => n + r.reserved, 0), 1000);
      assert.equal(rows.reduce((n, r) => n + r.refused, 0), 30);
      const refused = holds.find((h) => !h.ok)!;
      assert.ok(!refused.ok);
      assert.equal(refused.refusal.scope, 'connection');
      assert.equal(refused.refusal.limit, 1000);
      assert.equal(refused.refusal.resetsAt, nextMidnight(utcDay(Date.now())));
      // settling releases the holds and counts what was used
      await Promise.all(ok.map((h, i) => ledgers[i % ledgers.length]!.settle(h.ok ? h.reservation : (null as never), { input: 30, output: 40 })));
      const after = await ledgers[0]!.list({ connection: 'race' });
      assert.equal(after.reduce((n, r) => n + r.reserved, 0), 0);
      assert.equal(after.reduce((n, r) => n + r.totalTokens, 0), 700);
      assert.equal(after.reduce((n, r) => n + r.requests, 0), 10);
      // what was used stays counted: 700 used, so 3 more holds of 100 fit and the 4th does not
      const more = await Promise.all(Array.from({ length: 4 }, () => ledgers[0]!.reserve('race', alice, 100, { tokensPerDay: 1000 })));
      assert.equal(more.filter((h) => h.ok).length, 3);
      // a refusal of an identity with no row yet is counted too (its row is made for it)
      const carol = { key: 'apikey:c1', name: 'carol' };
      assert.equal((await ledgers[ledgers.length - 1]!.reserve('race', carol, 100, { tokensPerDay: 1000 })).ok, false);
      const carols = (await ledgers[0]!.list({ connection: 'race', identity: 'carol' }));
      assert.deepEqual(carols.map((r) => [r.identityName, r.refused, r.reserved]), [['carol', 1, 0]]);
    });

    it('a per-identity limit refuses that identity only; a hold can grow only within the limits', async () => {
      const limits = { perIdentityTokensPerDay: 300 };
      const a1 = await ledgers[0]!.reserve('per-id', alice, 200, limits);
      const a2 = await ledgers[ledgers.length - 1]!.reserve('per-id', alice, 200, limits);
      const b1 = await ledgers[0]!.reserve('per-id', bob, 200, limits);
      assert.ok(a1.ok && b1.ok);
      assert.ok(!a2.ok);
      assert.equal(a2.refusal.scope, 'identity');
      assert.equal(a2.refusal.used, 200);
      assert.equal(await ledgers[0]!.grow(a1.reservation, 100, limits), true);
      assert.equal(await ledgers[0]!.grow(a1.reservation, 1, limits), false);
      assert.equal(a1.reservation.tokens, 300);
      await ledgers[0]!.settle(a1.reservation, { input: 10, output: 5 });
      const [row] = await ledgers[0]!.list({ connection: 'per-id', identity: 'alice' });
      assert.deepEqual([row!.reserved, row!.totalTokens, row!.requests, row!.refused], [0, 15, 1, 1]);
    });

    it('requests that held nothing (no budget) are summed in memory and written by upsert, from every replica into one row', async () => {
      const batchers = ledgers.map((l) => new UsageBatcher(l, 60_000));
      for (let i = 0; i < 6; i++) batchers[i % batchers.length]!.add('free', alice, { input: 3, output: 4 });
      assert.deepEqual(await ledgers[0]!.list({ connection: 'free' }), [], 'nothing written before a flush');
      await Promise.all(batchers.map((b) => b.close()));
      const [row] = await ledgers[0]!.list({ connection: 'free' });
      assert.deepEqual([row!.identityName, row!.inputTokens, row!.outputTokens, row!.requests, row!.reserved], ['alice', 18, 24, 6, 0]);
      await ledgers[0]!.count([{ day: utcDay(Date.now()), connection: 'free', who: alice, input: 1, output: 1, requests: 2 }]);
      assert.equal((await ledgers[0]!.list({ connection: 'free' }))[0]!.requests, 8);
    });

    it('a hold whose gateway died expires: the next refused request releases it and gets in; a late settle counts usage only', async () => {
      // times are given, not waited for: the lease is 50 ms from each call's `now`
      const short = stores.map((st) => new UsageLedger(st.db, 50));
      const limits = { tokensPerDay: 1000 };
      const t0 = Date.now();
      const dead = await short[0]!.reserve('lease', alice, 600, limits, t0);
      const live = await short[0]!.reserve('lease', bob, 300, limits, t0);
      assert.ok(dead.ok && live.ok);
      await short[0]!.renew(live.reservation, t0 + 100);
      const next = await short[short.length - 1]!.reserve('lease', bob, 600, limits, t0 + 120);
      assert.ok(next.ok, 'the expired hold was released');
      const held = async () => (await ledgers[0]!.list({ connection: 'lease' })).reduce((n, r) => n + r.reserved, 0);
      assert.equal(await held(), 900);
      // the renewed hold was not released, and a third does not fit
      assert.equal((await short[0]!.reserve('lease', alice, 200, limits, t0 + 130)).ok, false);
      await short[0]!.settle(dead.reservation, { input: 5, output: 5 });
      assert.equal(await held(), 900);
      const [a] = await ledgers[0]!.list({ connection: 'lease', identity: 'alice' });
      assert.deepEqual([a!.totalTokens, a!.requests], [10, 1]);
    });
  });
}

suite('SQLite', async () => [await openStore({ store: 'sqlite', dataDir: join(root, 'sqlite') })]);
suite('Postgres, two replicas', async () => [await openStore({ store: pgUrl, dataDir: join(root, 'pg1') }), await openStore({ store: pgUrl, dataDir: join(root, 'pg2') })]);
