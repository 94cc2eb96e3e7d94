// Tamper scenarios for the hash chain, shared by the SQLite run (audit-chain.test.ts)
// and the Postgres run (integration/store-postgres.test.ts). Each scenario writes a
// fresh chain of 35 events in 7 group commits of 5, signEvery 0 (so signed heads #1..#7 name events
// 5, 10, ... 35, and close signs #8 at 35), tampers with the store the way someone with
// database access could, and expects verify to name the right event.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../src/store/index.ts';
import { openAuditLog, verifyAudit, eventHash, canonicalJson, HEADS_FILE, type AuditLog } from '../../src/audit/index.ts';

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

export const N = 35;

/** Append events from+1..to in groups of 5, one group commit each (appends made in one turn share a batch). */
export async function appendGroups(log: AuditLog, from: number, to: number): Promise<void> {
  for (let g = from; g < to; g += 5) {
    const group = [];
    for (let i = g + 1; i <= Math.min(g + 5, to); i++) {
      group.push(log.append({ type: 'command', sessionId: `s${i % 3}`, actor: 'alice', data: { i, text: `select ${i}` } }, { durable: i % 2 === 0 }));
    }
    await Promise.all(group);
  }
}

/** A chain of N events, its log still open (a running gateway). */
export async function running(backend: ChainBackend): Promise<Fresh & { log: AuditLog }> {
  const f = await backend.fresh();
  // signEveryMs 0: a head with every group commit (as on Postgres), so each scenario
  // knows which head names which event; the signEvery window has its own tests.
  const log = await openAuditLog(f.store, { dataDir: f.dataDir, shipGapMs: 0, signEveryMs: 0 });
  await appendGroups(log, 0, N);
  return { ...f, log };
}

export async function filled(backend: ChainBackend): Promise<Fresh> {
  const { log, ...f } = await running(backend);
  await log.close(); // signs head #8, a close head, at 35
  return f;
}

export async function row(store: Store, seq: number) {
  return store.db.selectFrom('events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}

/** Change event `from`'s data and recompute every hash after it, as a forger would; the chain head follows. */
export async function rehashFrom(store: Store, from: number, last: number, data: unknown): Promise<void> {
  let prev = (await row(store, from - 1)).hash;
  for (let seq = from; seq <= last; seq++) {
    const r = await row(store, seq);
    const json = seq === from ? canonicalJson(data) : r.data;
    const hash = eventHash(prev, { seq, ts: r.ts, type: r.type, sessionId: r.session_id, actor: r.actor, dataJson: json });
    await store.db.updateTable('events').set({ data: json, prev_hash: prev, hash }).where('seq', '=', seq).execute();
    prev = hash;
  }
  await store.db.updateTable('chain_head').set({ seq: last, hash: prev }).where('id', '=', 1).execute();
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
    it('verifies an intact chain: one signed head per group commit and one on close', () =>
      withChain(backend, async ({ store, dataDir }) => {
        const v = await verifyAudit(store, dataDir);
        const { keyId, newestHead, ...rest } = v;
        assert.deepEqual(rest, { ok: true, count: N, lastSeq: N, heads: 8, checkpoints: 0, keyPinned: false });
        assert.match(keyId ?? '', /^[0-9a-f]{16}$/);
        assert.deepEqual({ n: newestHead?.n, seq: newestHead?.seq, kind: newestHead?.kind }, { n: 8, seq: 35, kind: 'close' });
        const heads = await store.db.selectFrom('signed_heads').select(['n', 'seq', 'kind']).orderBy('n').execute();
        assert.deepEqual(heads.map((h) => [Number(h.n), Number(h.seq), h.kind]), [
          [1, 5, 'batch'], [2, 10, 'batch'], [3, 15, 'batch'], [4, 20, 'batch'], [5, 25, 'batch'], [6, 30, 'batch'], [7, 35, 'batch'], [8, 35, 'close'],
        ]);
        // The data dir's copy got heads as they were signed, the close head last.
        const lines = readFileSync(join(dataDir, HEADS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(lines.at(-1).n, 8);
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

    it('detects a cut tail from the signed heads, then from the data dir copy when the heads were cut too', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.deleteFrom('events').where('seq', '>', 30).execute();
        let v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'truncated');
        assert.equal(v.brokenSeq, 31);
        assert.match(v.problem ?? '', /signed head #7 names event 35 but the chain ends at event 30/);

        // A careful intruder also rewinds the head and deletes the newer heads; the
        // JSON-lines copy in the data dir still tells.
        const last = await row(store, 30);
        await store.db.updateTable('chain_head').set({ seq: 30, hash: last.hash }).where('id', '=', 1).execute();
        await store.db.deleteFrom('signed_heads').where('seq', '>', 30).execute();
        v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'truncated');
        assert.equal(v.brokenSeq, 31);
        assert.match(v.problem ?? '', /audit-heads\.jsonl holds signed head #8 \(event 35/);

        // Without the copy, the newest head left (#6, a batch head) goes stale: a running
        // gateway would have signed a newer one by now.
        writeFileSync(join(dataDir, HEADS_FILE), '');
        v = await verifyAudit(store, dataDir);
        assert.equal(v.ok, true, 'fresh, for now');
        v = await verifyAudit(store, dataDir, { now: Date.now() + 3 * 60_000 });
        assert.equal(v.kind, 'stale');
        assert.equal(v.brokenSeq, 31);
        assert.match(v.problem ?? '', /newest signed head #6 \(event 30\).*not a close head/);
      }));

    it('detects a cut tail from the chain head alone', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.deleteFrom('events').where('seq', '>', 33).execute();
        await store.db.deleteFrom('signed_heads').where('seq', '>', 30).execute();
        writeFileSync(join(dataDir, HEADS_FILE), '');
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'truncated');
        assert.equal(v.brokenSeq, 34);
        assert.match(v.problem ?? '', /head records event 35/);
      }));

    it('names events no signed head covers (their heads deleted)', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.deleteFrom('signed_heads').where('seq', '>', 30).execute();
        writeFileSync(join(dataDir, HEADS_FILE), '');
        // signEvery 0, as the chain was written: no tail may go unsigned. (With a window,
        // heads deleted within it read as an unsigned tail: the limit README states.)
        const v = await verifyAudit(store, dataDir, { signEveryMs: 0 });
        assert.equal(v.kind, 'unsigned');
        assert.equal(v.brokenSeq, 31);
        assert.match(v.problem ?? '', /events 31\.\.35 are covered by no signed head/);
      }));

    it('catches a consistently rehashed chain at the next signed head', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await rehashFrom(store, 17, N, { i: 17, text: 'nothing to see' });
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.ok, false);
        assert.equal(v.kind, 'changed');
        assert.equal(v.brokenSeq, 20);
        assert.match(v.problem ?? '', /event 20 is not the event signed head #4 names/);
      }));

    it('rejects a head that was changed (its successor no longer links to it) and a bad newest signature', () =>
      withChain(backend, async ({ store, dataDir }) => {
        const h4 = await store.db.selectFrom('signed_heads').selectAll().where('n', '=', 4).executeTakeFirstOrThrow();
        const sig = Buffer.from(h4.signature, 'base64');
        sig[0] ^= 1;
        await store.db.updateTable('signed_heads').set({ signature: sig.toString('base64') }).where('n', '=', 4).execute();
        let v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'head');
        assert.match(v.problem ?? '', /signed head #5 does not follow head #4/);
        await store.db.updateTable('signed_heads').set({ signature: h4.signature }).where('n', '=', 4).execute();

        const h8 = await store.db.selectFrom('signed_heads').selectAll().where('n', '=', 8).executeTakeFirstOrThrow();
        await store.db.updateTable('signed_heads').set({ signature: h4.signature }).where('n', '=', 8).execute();
        v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'head');
        assert.match(v.problem ?? '', /signed head #8 has an invalid signature/);
        await store.db.updateTable('signed_heads').set({ signature: h8.signature }).where('n', '=', 8).execute();
        assert.equal((await verifyAudit(store, dataDir)).ok, true);
      }));

    it('names a gap in the chain of heads', () =>
      withChain(backend, async ({ store, dataDir }) => {
        await store.db.deleteFrom('signed_heads').where('n', 'in', [3, 4]).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'head');
        assert.equal(v.brokenSeq, 11);
        assert.match(v.problem ?? '', /signed heads #3\.\.#4 are missing/);
      }));

    it('records posted events (no promise) in order among awaited ones, and reports a bad one', async () => {
      const f = await backend.fresh();
      try {
        const log = await openAuditLog(f.store, { dataDir: f.dataDir });
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
        const log = await openAuditLog(f.store, { dataDir: f.dataDir });
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
