// Tamper scenarios for the hash chain, shared by the SQLite run (audit-chain.test.ts)
// and the Postgres run (integration/store-postgres.test.ts). Each scenario writes a
// fresh chain of 35 events with a checkpoint every 10, tampers with the store the way
// someone with database access could, and expects verify to name the right event.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../src/store/index.ts';
import { openAuditLog, verifyAudit, eventHash, canonicalJson, CHECKPOINT_FILE } from '../../src/audit/index.ts';

export interface Fresh {
  store: Store;
  dataDir: string;
  cleanup(): Promise<void>;
}

export interface ChainBackend {
  name: string;
  /** a store holding an empty chain, and a data dir of its own */
  fresh(): Promise<Fresh>;
}

const N = 35;

async function filled(backend: ChainBackend): Promise<Fresh> {
  const f = await backend.fresh();
  const log = await openAuditLog(f.store, { dataDir: f.dataDir, checkpointEvery: 10 });
  const appends = [];
  for (let i = 1; i <= N; i++) {
    appends.push(log.append({ type: 'command', sessionId: `s${i % 3}`, actor: 'alice', data: { i, text: `select ${i}` } }, { durable: i % 2 === 0 }));
  }
  await Promise.all(appends);
  await log.close(); // signs a last checkpoint at 35
  return f;
}

async function row(store: Store, seq: number) {
  return store.db.selectFrom('events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}

async function withChain(backend: ChainBackend, fn: (f: Fresh) => Promise<void>): Promise<void> {
  const f = await filled(backend);
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

export function chainSuite(backend: ChainBackend): void {
  describe(`audit chain tampering (${backend.name})`, () => {
    it('verifies an intact chain, checkpoints included', () =>
      withChain(backend, async ({ store, dataDir }) => {
        const v = await verifyAudit(store, dataDir);
        assert.deepEqual(v, { ok: true, count: N, lastSeq: N, checkpoints: 4 });
        const lines = readFileSync(join(dataDir, CHECKPOINT_FILE), 'utf8').trim().split('\n');
        assert.deepEqual(lines.map((l) => JSON.parse(l).seq), [10, 20, 30, 35]);
      }));

    it('names a changed event', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.updateTable('events').set({ data: '{"i":17,"text":"select 1"}' }).where('seq', '=', 17).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.ok, false);
        assert.equal(v.kind, 'changed');
        assert.equal(v.brokenSeq, 17);
        assert.equal(v.count, 16);
        assert.match(v.problem ?? '', /event 17 was changed/);
      }));

    it('names a removed event', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.deleteFrom('events').where('seq', '=', 12).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'removed');
        assert.equal(v.brokenSeq, 12);
        assert.match(v.problem ?? '', /event 12 was removed/);
      }));

    it('names reordered events when their contents were swapped', () =>
      withChain(backend, async ({ store, dataDir }) => {
        const a = await row(store, 14);
        const b = await row(store, 22);
        const content = (r: typeof a) => ({ ts: r.ts, type: r.type, session_id: r.session_id, actor: r.actor, data: r.data });
        await store.db.updateTable('events').set(content(b)).where('seq', '=', 14).execute();
        await store.db.updateTable('events').set(content(a)).where('seq', '=', 22).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'reordered');
        assert.equal(v.brokenSeq, 14);
        assert.match(v.problem ?? '', /event 14 was reordered.*event 22/);
      }));

    it('names reordered events when whole rows (hashes too) were swapped', () =>
      withChain(backend, async ({ store, dataDir }) => {
        const a = await row(store, 14);
        const b = await row(store, 15);
        const all = (r: typeof a) => ({ ts: r.ts, type: r.type, session_id: r.session_id, actor: r.actor, data: r.data, prev_hash: r.prev_hash, hash: r.hash });
        await store.db.updateTable('events').set(all(b)).where('seq', '=', 14).execute();
        await store.db.updateTable('events').set(all(a)).where('seq', '=', 15).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'reordered');
        assert.equal(v.brokenSeq, 14);
      }));

    it('detects a cut tail from the checkpoints even when the head and the table were reset', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.deleteFrom('events').where('seq', '>', 30).execute();
        let v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'truncated');
        assert.equal(v.brokenSeq, 31);
        assert.match(v.problem ?? '', /checkpoint names event 35 but the chain ends at event 30/);

        // A careful intruder also rewinds the head and deletes the newer checkpoint rows;
        // the JSON-lines copy in the data dir still tells.
        const last = await row(store, 30);
        await store.db.updateTable('chain_head').set({ seq: 30, hash: last.hash }).where('id', '=', 1).execute();
        await store.db.deleteFrom('checkpoints').where('seq', '>', 30).execute();
        v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'truncated');
        assert.equal(v.brokenSeq, 31);

        // Without the file copy the cut can no longer be seen: that is why it exists.
        const file = join(dataDir, CHECKPOINT_FILE);
        writeFileSync(file, readFileSync(file, 'utf8').split('\n').filter((l) => l && JSON.parse(l).seq <= 30).join('\n') + '\n');
        v = await verifyAudit(store, dataDir);
        assert.equal(v.ok, true);
      }));

    it('detects a cut tail from the chain head alone', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.deleteFrom('events').where('seq', '>', 33).execute();
        await store.db.deleteFrom('checkpoints').where('seq', '>', 30).execute();
        writeFileSync(join(dataDir, CHECKPOINT_FILE), '');
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'truncated');
        assert.equal(v.brokenSeq, 34);
        assert.match(v.problem ?? '', /head records event 35/);
      }));

    it('catches a consistently rehashed chain at the next signed checkpoint', () =>
      withChain(backend, async ({ store, dataDir }) => {
        // Change event 17 and recompute every hash after it, as a forger would.
        let prev = (await row(store, 16)).hash;
        for (let seq = 17; seq <= N; seq++) {
          const r = await row(store, seq);
          const data = seq === 17 ? canonicalJson({ i: 17, text: 'nothing to see' }) : r.data;
          const hash = eventHash(prev, { seq, ts: r.ts, type: r.type, sessionId: r.session_id, actor: r.actor, dataJson: data });
          await store.db.updateTable('events').set({ data, prev_hash: prev, hash }).where('seq', '=', seq).execute();
          prev = hash;
        }
        await store.db.updateTable('chain_head').set({ hash: prev }).where('id', '=', 1).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.ok, false);
        assert.equal(v.brokenSeq, 20);
        assert.match(v.problem ?? '', /signed checkpoint at 20/);
      }));

    it('rejects a checkpoint whose signature does not verify', () =>
      withChain(backend, async ({ store, dataDir }) => {
        const cp = await store.db.selectFrom('checkpoints').selectAll().where('seq', '=', 20).executeTakeFirstOrThrow();
        const sig = Buffer.from(cp.signature, 'base64');
        sig[0] ^= 1;
        await store.db.updateTable('checkpoints').set({ signature: sig.toString('base64') }).where('seq', '=', 20).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'checkpoint');
        assert.equal(v.brokenSeq, 20);
      }));

    it('records posted events (no promise) in order among awaited ones, and reports a bad one', async () => {
      const f = await backend.fresh();
      try {
        const log = await openAuditLog(f.store, { dataDir: f.dataDir, checkpointEvery: 0 });
        const errors: Error[] = [];
        const onError = (e: Error) => errors.push(e);
        const first = await log.append({ type: 'command', sessionId: 's', data: { i: 0 } });
        for (let i = 1; i <= 5; i++) log.post({ type: 'result', sessionId: 's', actor: 'a', data: { i } }, onError);
        log.post({ type: 'result', data: { bad: Infinity } }, onError);
        const last = await log.append({ type: 'command', sessionId: 's', data: { i: 6 } });
        assert.equal(last.seq, first.seq + 6, 'the five posted events sit between the two awaited ones');
        assert.equal(errors.length, 1);
        assert.match(errors[0].message, /finite/);
        log.post({ type: 'result', data: { i: 7 } }, onError);
        await log.flush();
        await log.close();
        log.post({ type: 'result', data: {} }, onError);
        assert.match(errors[1]?.message ?? '', /closed/);
        const v = await verifyAudit(f.store, f.dataDir);
        assert.equal(v.ok, true, v.problem);
        assert.equal(v.count, 8);
        const rows = await f.store.db.selectFrom('events').select(['seq', 'data']).orderBy('seq').execute();
        assert.deepEqual(rows.map((r) => JSON.parse(r.data).i), [0, 1, 2, 3, 4, 5, 6, 7]);
      } finally {
        await f.cleanup();
      }
    });

    it('keeps a gap-free chain under many concurrent appenders', async () => {
      const f = await backend.fresh();
      try {
        const log = await openAuditLog(f.store, { dataDir: f.dataDir, checkpointEvery: 100 });
        const callers = 40;
        const each = 25;
        const seqs: number[][] = await Promise.all(
          Array.from({ length: callers }, async (_, c) => {
            const mine: number[] = [];
            for (let i = 0; i < each; i++) {
              const e = await log.append({ type: 'command', sessionId: `c${c}`, data: { c, i } }, { durable: i % 3 !== 0 });
              mine.push(e.seq);
            }
            return mine;
          }),
        );
        // One caller firing without waiting: its events land in the order it appended them.
        const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => log.append({ type: 'result', data: { i } }, { durable: i % 2 === 0 })));
        assert.deepEqual(burst.map((e) => e.data.i), burst.map((_, i) => i));
        assert.deepEqual(burst.map((e) => e.seq), burst.map((e, i) => burst[0].seq + i));
        await log.close();
        const all = seqs.flat().sort((a, b) => a - b);
        assert.deepEqual(all, Array.from({ length: callers * each }, (_, i) => i + 1), 'the callers\' events come first, without gaps');
        for (const mine of seqs) assert.deepEqual(mine, [...mine].sort((a, b) => a - b), 'a caller sees its events in order');
        assert.ok(log.commits < callers * each, `group commit: ${log.commits} transactions for ${callers * each} events`);
        const v = await verifyAudit(f.store, f.dataDir);
        assert.equal(v.ok, true, v.problem);
        assert.equal(v.count, callers * each + burst.length);
      } finally {
        await f.cleanup();
      }
    });
  });
}
