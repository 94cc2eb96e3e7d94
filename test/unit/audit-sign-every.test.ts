// gateway.audit.signEvery on the SQLite writer: a head at most once per interval, the
// tail signed by the idle timer and by close, verify reporting an unsigned tail without
// calling it tampering, and tampering still found where the chain or a head can see it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, type Store } from '../../src/store/index.ts';
import { canonicalJson, eventHash, openAuditLog, verifyAudit, type AuditLog } from '../../src/audit/index.ts';
import { describeResult } from '../../src/cli/audit-actions.ts';
import { rehashFrom, row } from './audit-chain-suite.ts';

const WIDE = 60_000; // a window no test run outlasts: what falls in it does not depend on timing

async function withStore(fn: (store: Store, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warden-sign-every-'));
  const store = await openStore({ store: 'sqlite', dataDir });
  try {
    await fn(store, dataDir);
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function heads(store: Store) {
  const rows = await store.db.selectFrom('signed_heads').select(['n', 'seq', 'kind']).orderBy('n').execute();
  return rows.map((h) => [Number(h.n), Number(h.seq), h.kind]);
}

async function appendEach(log: AuditLog, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await log.append({ type: 'command', sessionId: 's', actor: 'alice', data: { i, text: `select ${i}` } });
}

/** Events 1..5 under a close head (signEvery 0), then 6..10 appended by a log with a wide window: an unsigned tail. */
async function tailed(store: Store, dataDir: string): Promise<AuditLog> {
  const first = await openAuditLog(store, { dataDir, signEveryMs: 0 });
  await appendEach(first, 1, 5);
  await first.close();
  const log = await openAuditLog(store, { dataDir, signEveryMs: WIDE });
  await appendEach(log, 6, 10);
  return log;
}

const closeQuietly = (log: AuditLog) => log.close().catch(() => {});

describe('audit signEvery (SQLite)', () => {
  it('commits within the interval make one signature; verify reports the rest as an unsigned tail; close signs it', () =>
    withStore(async (store, dataDir) => {
      const log = await openAuditLog(store, { dataDir, signEveryMs: WIDE });
      await appendEach(log, 1, 10);
      assert.equal((log as unknown as { commits: number }).commits, 10, 'ten group commits');
      // the open beat found an empty chain; the first commit is signed, the nine after it are not
      assert.deepEqual(await heads(store), [[1, 1, 'batch']]);
      const v = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
      assert.deepEqual([v.ok, v.count, v.heads, v.unsignedTail], [true, 10, 1, 9], v.problem);
      assert.match(describeResult(v), /9 events after the last signed head/);
      // a verifier told every commit is signed calls the same tail unsigned
      const strict = await verifyAudit(store, dataDir, { signEveryMs: 0 });
      assert.deepEqual([strict.ok, strict.kind, strict.brokenSeq], [false, 'unsigned', 2]);

      await log.close();
      assert.deepEqual(await heads(store), [[1, 1, 'batch'], [2, 10, 'close']]);
      const after = await verifyAudit(store, dataDir, { signEveryMs: 0 });
      assert.deepEqual([after.ok, after.unsignedTail], [true, undefined], after.problem);
    }));

  it('the idle timer signs the tail once traffic stops', () =>
    withStore(async (store, dataDir) => {
      const log = await openAuditLog(store, { dataDir, signEveryMs: 1500 });
      try {
        await appendEach(log, 1, 4);
        assert.deepEqual(await heads(store), [[1, 1, 'batch']], 'events 2..4 went in unsigned');
        // no more appends: wait (bounded) for the timer's head instead of asserting when it comes
        for (let t = 0; t < 300 && (await heads(store)).length < 2; t++) await sleep(50);
        assert.deepEqual(await heads(store), [[1, 1, 'batch'], [2, 4, 'beat']]);
        const v = await verifyAudit(store, dataDir, { signEveryMs: 0 });
        assert.equal(v.ok, true, v.problem);
      } finally {
        await log.close();
      }
    }));

  it('a tamper inside the signed part is detected while a tail is unsigned', () =>
    withStore(async (store, dataDir) => {
      const log = await tailed(store, dataDir);
      try {
        assert.deepEqual(await heads(store), [[1, 1, 'batch'], [2, 2, 'batch'], [3, 3, 'batch'], [4, 4, 'batch'], [5, 5, 'batch'], [6, 5, 'close'], [7, 5, 'beat']]);
        const ok = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
        assert.deepEqual([ok.ok, ok.unsignedTail], [true, 5], ok.problem);
        // edited in place: the event's own hash
        await store.db.updateTable('events').set({ data: '{"i":3,"text":"nothing"}' }).where('seq', '=', 3).execute();
        const v = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
        assert.deepEqual([v.ok, v.kind, v.brokenSeq], [false, 'changed', 3]);
        // rewritten with every hash recomputed through the tail, chain head too: the head naming event 3
        await rehashFrom(store, 3, 10, { i: 3, text: 'nothing to see' });
        const r = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
        assert.deepEqual([r.ok, r.kind, r.brokenSeq], [false, 'changed', 3]);
        assert.match(r.problem ?? '', /event 3 is not the event signed head #3 names/);
      } finally {
        await closeQuietly(log);
      }
    }));

  it('the unsigned tail: an edit or a cut is caught by the chain, a consistent rewrite by the running writer', () =>
    withStore(async (store, dataDir) => {
      const log = await tailed(store, dataDir);
      try {
        const original = await row(store, 8);
        await store.db.updateTable('events').set({ data: '{"i":8,"text":"edited"}' }).where('seq', '=', 8).execute();
        const edited = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
        assert.deepEqual([edited.ok, edited.kind, edited.brokenSeq], [false, 'changed', 8]);
        await store.db.updateTable('events').set({ data: original.data }).where('seq', '=', 8).execute();

        const tenth = await row(store, 10);
        await store.db.deleteFrom('events').where('seq', '=', 10).execute();
        const cut = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
        assert.deepEqual([cut.ok, cut.kind, cut.brokenSeq], [false, 'truncated', 10]);
        await store.db.insertInto('events').values(tenth).execute();

        // recomputed hashes and chain head: within the window verify cannot tell (README),
        // but the writer knows the chain head it left and refuses to sign over another
        await rehashFrom(store, 8, 10, { i: 8, text: 'GRANT ALL TO mallory' });
        const v = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
        assert.deepEqual([v.ok, v.unsignedTail], [true, 5], v.problem);
        await assert.rejects(log.append({ type: 'command', data: { i: 11 } }), /tampered: the chain head \(event 10\) is not the one this writer left/);
        assert.equal(await store.db.selectFrom('events').select('seq').where('seq', '>', 10).execute().then((x) => x.length), 0);
        assert.equal((await heads(store)).length, 7, 'no head signed over the rewrite');
      } finally {
        await closeQuietly(log);
      }
    }));

  it('a tail later than signEvery after its head, or after a close head, is not one a gateway leaves', () =>
    withStore(async (store, dataDir) => {
      const log = await tailed(store, dataDir);
      await log.close(); // close head #8 at 10
      // forged after the close head, hashes right: verify and a new writer both refuse it
      const last = await row(store, 10);
      const forged = { seq: 11, ts: new Date(Date.parse(last.ts) + 3_600_000).toISOString(), type: 'command', session_id: 's', actor: 'alice', data: canonicalJson({ text: 'DROP TABLE audit' }), prev_hash: last.hash };
      const hash = eventHash(last.hash, { seq: 11, ts: forged.ts, type: forged.type, sessionId: forged.session_id, actor: forged.actor, dataJson: forged.data });
      await store.db.insertInto('events').values({ ...forged, hash }).execute();
      await store.db.updateTable('chain_head').set({ seq: 11, hash }).where('id', '=', 1).execute();
      const v = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
      assert.deepEqual([v.ok, v.kind, v.brokenSeq], [false, 'unsigned', 11]);
      await assert.rejects(openAuditLog(store, { dataDir, signEveryMs: WIDE }).then(closeQuietly), /tampered: events 11\.\.11 follow the newest signed head #8 .*close head/);
      // the close head deleted too: the event, an hour after head #7, is still no tail a gateway leaves
      await store.db.deleteFrom('signed_heads').where('n', '=', 8).execute();
      const late = await verifyAudit(store, dataDir, { signEveryMs: WIDE });
      assert.deepEqual([late.ok, late.kind], [false, 'unsigned']);
    }));
});
