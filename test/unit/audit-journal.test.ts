// The audit journal (src/audit/journal.ts): a strict command's event is on disk (one
// write, one fdatasync) before it has its place in the chain; the writer indexes the
// journal into the store a few ms later, whoever opens the store after a crash indexes
// what is left, a torn or forged tail is not read, and only one writer appends to it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openStore, type Store } from '../../src/store/index.ts';
import { openAuditLog, verifyAudit, type AuditLog } from '../../src/audit/index.ts';
import { encodeRecord, journalFile, readJournal } from '../../src/audit/journal.ts';

const HOUR = 3_600_000;
const cmd = (i: number, sessionId = 's1') => ({ type: 'command', sessionId, actor: 'alice', data: { text: `select ${i}` } });

async function withDir(fn: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-journal-'));
  try {
    await fn(dataDir);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The events as SQLite holds them, read on a connection of its own (no recovery on open). */
function rawEvents(dataDir: string): { seq: number; type: string; text: string | null; ts: string }[] {
  const db = new DatabaseSync(join(dataDir, 'warden.db'), { readOnly: true });
  try {
    return (db.prepare('SELECT seq, type, data, ts FROM events ORDER BY seq').all() as { seq: number; type: string; data: string; ts: string }[]).map((r) => ({
      seq: Number(r.seq),
      type: r.type,
      text: (JSON.parse(r.data) as { text?: string }).text ?? null,
      ts: r.ts,
    }));
  } finally {
    db.close();
  }
}

const texts = (dataDir: string) => rawEvents(dataDir).filter((e) => e.type === 'command' || e.type === 'result').map((e) => e.text);

async function verifyOk(store: Store, dataDir: string): Promise<void> {
  const v = await verifyAudit(store, dataDir, { staleAfterMs: 0 });
  assert.equal(v.ok, true, JSON.stringify(v));
}

describe('audit journal', () => {
  it('reads whole records only: a torn last write and a damaged record end the journal there', () =>
    withDir(async (dir) => {
      const file = join(dir, 'audit-journal.0');
      const recs = [1, 2, 3].map((i) => encodeRecord(`2026-01-01T00:00:0${i}.000Z`, [{ type: 'command', sessionId: 's', actor: 'a', dataJson: `{"i":${i}}` }]));
      writeFileSync(file, Buffer.concat(recs));
      assert.deepEqual(readJournal(file, 0).map((r) => r.items[0]!.dataJson), ['{"i":1}', '{"i":2}', '{"i":3}']);
      assert.equal(readJournal(file, 0)[1]!.items[0]!.ts, '2026-01-01T00:00:02.000Z');
      appendFileSync(file, recs[0]!.subarray(0, recs[0]!.length - 3)); // torn
      assert.equal(readJournal(file, 0).length, 3);
      const bytes = readFileSync(file);
      bytes[recs[0]!.length + 20]! ^= 1; // a bit flipped in the second record's payload
      writeFileSync(file, bytes);
      assert.equal(readJournal(file, 0).length, 1);
      assert.equal(readJournal(file, recs[0]!.length + recs[1]!.length).length, 1, 'read from an offset');
    }));

  it('persist() resolves once the event is journaled; it joins the chain in append order, with its journal time', () =>
    withDir(async (dataDir) => {
      const store = await openStore({ store: 'sqlite', dataDir });
      const log = await openAuditLog(store, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR });
      try {
        await log.persist(cmd(1));
        await Promise.all([log.persist(cmd(2, 's2')), log.persist(cmd(3, 's3'))]);
        assert.deepEqual(texts(dataDir), [], 'on disk in the journal, not yet in the store');
        assert.deepEqual(readJournal(journalFile(join(dataDir, 'warden.db'), 0), 0).flatMap((r) => r.items.map((i) => JSON.parse(i.dataJson).text)), ['select 1', 'select 2', 'select 3']);
        const journaledAt = Date.now();
        await new Promise((r) => setTimeout(r, 30));
        log.post({ type: 'result', sessionId: 's1', actor: 'alice', data: { text: 'result 1' } }, (e) => assert.fail(e));
        await log.persist(cmd(4));
        await log.flush();
        assert.deepEqual(texts(dataDir), ['select 1', 'select 2', 'select 3', 'result 1', 'select 4']);
        const first = rawEvents(dataDir).find((e) => e.text === 'select 1')!;
        assert.ok(Date.parse(first.ts) <= journaledAt, `select 1 keeps the time it was journaled (${first.ts}), not the time it was indexed`);
        // an append() that wants its seq back is committed, after what was journaled
        const e = await log.append(cmd(5));
        assert.equal(e.seq, rawEvents(dataDir).at(-1)!.seq);
        const sessions = await store.db.selectFrom('sessions').selectAll().execute();
        assert.equal(sessions.length, 0, 'no session.start was written, so no session row either');
        await verifyOk(store, dataDir);
      } finally {
        await log.close();
        await store.close();
      }
    }));

  it('under steady load the journal is indexed at least every lazyMs, not only when the load stops', () =>
    withDir(async (dataDir) => {
      const store = await openStore({ store: 'sqlite', dataDir });
      const log = await openAuditLog(store, { dataDir, lazyMs: 20, headIntervalMs: HOUR });
      try {
        const until = Date.now() + 300;
        let i = 0;
        while (Date.now() < until) await log.persist(cmd(++i));
        // the load has not stopped: whatever is in the store was indexed while it ran
        assert.ok(texts(dataDir).length >= i / 2, `${texts(dataDir).length} of ${i} events indexed during the load`);
      } finally {
        await log.close();
        await store.close();
      }
    }));

  it('a writer killed -9 loses nothing it was told is on disk: the next opener of the store indexes it, and a torn tail is cut', () =>
    withDir(async (dataDir) => {
      const child = new URL('./audit-journal-child.ts', import.meta.url).pathname;
      const run = spawnSync(process.execPath, ['--import', 'tsx', child, dataDir, '40'], { encoding: 'utf8' });
      assert.equal(run.signal, 'SIGKILL', run.stderr);
      assert.equal(run.stdout.trim(), '40 on disk');
      assert.deepEqual(texts(dataDir), [], 'killed before it indexed anything');
      // a crash in the middle of a later write leaves a torn record behind the whole ones
      const file = journalFile(join(dataDir, 'warden.db'), 0);
      const torn = encodeRecord(new Date().toISOString(), [{ type: 'command', sessionId: 's9', actor: 'mallory', dataJson: '{"text":"torn"}' }]);
      const end = readJournal(file, 0).at(-1)!.end;
      const bytes = readFileSync(file);
      torn.copy(bytes, end, 0, torn.length >> 1); // its first half reached the disk
      writeFileSync(file, bytes);

      const store = await openStore({ store: 'sqlite', dataDir }); // a reader: it indexes the journal first
      try {
        const got = texts(dataDir);
        assert.equal(got.length, 40);
        assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => `select ${i + 1}`.replace('select', 'insert')));
        await verifyOk(store, dataDir);
        const heads = await store.db.selectFrom('signed_heads').select(['seq']).orderBy('n', 'desc').executeTakeFirst();
        assert.equal(Number(heads!.seq), rawEvents(dataDir).at(-1)!.seq, 'a head covers what was recovered');
        // the next writer cuts the torn record and goes on after the recovered ones
        const log = await openAuditLog(store, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR });
        await log.persist(cmd(41));
        await log.close();
        assert.deepEqual(texts(dataDir).slice(-1), ['select 41']);
        assert.ok(!texts(dataDir).includes('torn'));
        await verifyOk(store, dataDir);
      } finally {
        await store.close();
      }
    }));

  it('records added to the journal after a clean stop (its close head) are refused, not signed into the chain', () =>
    withDir(async (dataDir) => {
      const db = join(dataDir, 'warden.db');
      const store = await openStore({ store: 'sqlite', dataDir });
      const log = await openAuditLog(store, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR });
      await log.persist(cmd(1));
      await log.close(); // indexes the journal, then signs a close head
      await store.close();
      // someone who can write the data dir appends a well-formed record where the next one would go
      const at = (await (async () => {
        const s = await openStore({ store: 'sqlite', dataDir });
        try {
          return await s.db.selectFrom('chain_head').select(['journal_gen', 'journal_offset']).executeTakeFirstOrThrow();
        } finally {
          await s.close();
        }
      })());
      const file = journalFile(db, Number(at.journal_gen));
      const bytes = readFileSync(file);
      encodeRecord(new Date().toISOString(), [{ type: 'command', sessionId: 's1', actor: 'alice', dataJson: '{"text":"select forged"}' }]).copy(bytes, Number(at.journal_offset));
      writeFileSync(file, bytes);
      assert.equal(readJournal(file, Number(at.journal_offset)).length, 1, 'the forged record reads as whole');

      const reader = await openStore({ store: 'sqlite', dataDir }); // a reader does not index it
      try {
        assert.deepEqual(texts(dataDir), ['select 1']);
        await verifyOk(reader, dataDir);
        await assert.rejects(openAuditLog(reader, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR }), /tampered: .*after the store's close head/);
        assert.deepEqual(texts(dataDir), ['select 1'], 'nor does a gateway, which refuses to start');
      } finally {
        await reader.close();
      }
    }));

  it('fails closed: once the store refuses what was journaled (a tampered chain), nothing more is let through on the journal', () =>
    withDir(async (dataDir) => {
      const store = await openStore({ store: 'sqlite', dataDir });
      const log = await openAuditLog(store, { dataDir, lazyMs: 20, headIntervalMs: HOUR, signEveryMs: 0 });
      try {
        await log.persist(cmd(1));
        await log.flush();
        // the signed heads deleted behind the writer's back: it refuses to sign over that
        const raw = new DatabaseSync(join(dataDir, 'warden.db'));
        raw.exec('DELETE FROM signed_heads');
        raw.close();
        await log.persist(cmd(2)); // on disk in the journal; its index write fails
        await log.indexed();
        await assert.rejects(log.persist(cmd(3)), /tampered/);
        assert.deepEqual(texts(dataDir), ['select 1']);
        assert.deepEqual(readJournal(journalFile(join(dataDir, 'warden.db'), 0), 0).flatMap((r) => r.items.map((i) => JSON.parse(i.dataJson).text)), ['select 1', 'select 2'], 'select 3 was refused, not journaled');
      } finally {
        await log.close().catch(() => {});
        await store.close();
      }
    }));

  it('another process indexing the journal while the gateway runs (a CLI opening the store) does not make the gateway index it twice', () =>
    withDir(async (dataDir) => {
      const { recoverJournal } = await import('../../src/audit/journal-recovery.ts');
      const store = await openStore({ store: 'sqlite', dataDir });
      const log = await openAuditLog(store, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR });
      try {
        await log.persist(cmd(1));
        await log.persist(cmd(2));
        assert.equal(recoverJournal(join(dataDir, 'warden.db'), dataDir), 2, 'the other process indexed both');
        await log.persist(cmd(3));
        await log.flush(); // the gateway's own write holds 1 and 2 too: it must skip them
        assert.deepEqual(texts(dataDir), ['select 1', 'select 2', 'select 3']);
        await verifyOk(store, dataDir);
      } finally {
        await log.close();
        await store.close();
      }
    }));

  it('one appender per data dir: a second writer commits its durable events to the store instead', () =>
    withDir(async (dataDir) => {
      const store = await openStore({ store: 'sqlite', dataDir });
      const logs: AuditLog[] = [];
      try {
        for (let i = 0; i < 2; i++) logs.push(await openAuditLog(store, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR }));
        await logs[0]!.persist(cmd(1));
        await logs[1]!.persist(cmd(2));
        assert.deepEqual(texts(dataDir), ['select 2'], 'the second committed at once; the first journaled');
        await logs[0]!.flush();
        assert.deepEqual(texts(dataDir).sort(), ['select 1', 'select 2']);
        await verifyOk(store, dataDir);
      } finally {
        for (const l of logs) await l.close();
        await store.close();
      }
    }));

  it('starts a new generation once the old one is all in the store, and removes the old file', () =>
    withDir(async (dataDir) => {
      const store = await openStore({ store: 'sqlite', dataDir });
      const log = await openAuditLog(store, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR, journalRotateBytes: 1024 });
      const db = join(dataDir, 'warden.db');
      try {
        for (let i = 1; i <= 20; i++) await log.persist(cmd(i));
        assert.ok(statSync(journalFile(db, 0)).size > 1024);
        await log.flush(); // indexed, and the generation is over 1 KB: rotated
        assert.equal(existsSync(journalFile(db, 0)), false);
        const row = await store.db.selectFrom('chain_head').select(['journal_gen', 'journal_offset']).executeTakeFirstOrThrow();
        assert.deepEqual([Number(row.journal_gen), Number(row.journal_offset)], [1, 0]);
        await log.persist(cmd(21));
        assert.equal(readJournal(journalFile(db, 1), 0).length, 1);
        await log.flush();
        assert.equal(texts(dataDir).length, 21);
        await verifyOk(store, dataDir);
      } finally {
        await log.close();
      }
      try {
        // a stop between the store's move to generation 1 and the old file's removal leaves it behind
        writeFileSync(journalFile(db, 0), 'left behind');
        const again = await openAuditLog(store, { dataDir, lazyMs: HOUR, headIntervalMs: HOUR });
        assert.equal(existsSync(journalFile(db, 0)), false, 'the next writer removes it');
        await again.persist(cmd(22));
        await again.close();
        assert.equal(texts(dataDir).length, 22);
      } finally {
        await store.close();
      }
    }));
});

describe('audit journal: the log', () => {
  it('indexed() asked while an index write is out is answered when it lands', async () => {
    const { GroupCommitLog } = await import('../../src/audit/log.ts');
    const { HeadShipper } = await import('../../src/audit/ship.ts');
    const writes: (() => void)[] = [];
    let seq = 0;
    const writer = {
      journal: async () => true,
      write: (items: unknown[]) =>
        new Promise<import('../../src/audit/chain.ts').BatchWritten>((resolve) => {
          writes.push(() => resolve({ firstSeq: seq + 1, ts: '', prevHash: '0'.repeat(64), hashes: items.map(() => 'a'.repeat(64)), signed: null, journaled: 0 }));
          seq += items.length;
        }),
      sign: async () => null,
      close: async () => {},
    };
    const log = new GroupCommitLog({} as Store, writer, new HeadShipper([], { minGapMs: 1000 }), { dataDir: '/nonexistent', headIntervalMs: HOUR, verify: {}, onError: () => {}, lazyMs: HOUR }, null);
    await log.persist(cmd(1));
    const first = log.indexed();
    await new Promise((r) => setImmediate(r));
    assert.equal(writes.length, 1, 'the first reader started an index write');
    const second = log.indexed(); // while that write is out
    writes[0]!();
    const answered = await Promise.race([Promise.all([first, second]).then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]);
    assert.equal(answered, true, 'both readers were answered');
    assert.equal(writes.length, 1, 'and no second write was needed');
    await log.close();
  });
});
