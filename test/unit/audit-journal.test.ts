// The audit journal (src/audit/journal.ts): the writer thread commits groups to SQLite
// without a sync and makes them durable with one fdatasync of the journal. An OS crash
// can then take a tail of commits from the store; the journal must bring them back,
// hash for hash, and refuse a journal that does not follow the store. The crash is
// simulated by keeping a copy of the store's files as a synced disk would hold them
// and putting the journal (synced at every durable group) next to that copy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { openStore } from '../../src/store/index.ts';
import { openAuditLog, verifyAudit } from '../../src/audit/index.ts';
import { loadOrCreateKey } from '../../src/audit/keys.ts';
import { SqliteChain } from '../../src/audit/sqlite-chain.ts';
import { journalFile, readJournal, syncStore } from '../../src/audit/journal.ts';
import { canonicalJson } from '../../src/audit/canonical.ts';
import type { BatchWritten } from '../../src/audit/chain.ts';

const item = (session: string, i: number) => ({ type: 'command', sessionId: session, actor: 'alice', dataJson: canonicalJson({ commandId: `${session}:${i}`, text: `SELECT ${i}` }) });

/** A data dir with a journaled writer that wrote `before` groups, then a copy of the store as a crash would leave it, then `after` more groups. */
async function crashAfter(before: number, after: number) {
  const dir = mkdtempSync(join(tmpdir(), 'warden-journal-'));
  const store = await openStore({ store: 'sqlite', dataDir: dir });
  const key = loadOrCreateKey(dir);
  const chain = new SqliteChain({ file: store.file!, privatePem: key.privatePem, journal: true });
  chain.sign('beat');
  const written: BatchWritten[] = [];
  for (let g = 0; g < before; g++) written.push(chain.write([item('s1', g), item('s2', g)], true));
  syncStore(store.file!);
  // what the disk holds at the crash: the synced store...
  const disk = mkdtempSync(join(tmpdir(), 'warden-journal-disk-'));
  cpSync(dir, disk, { recursive: true });
  for (let g = before; g < before + after; g++) written.push(chain.write([item('s1', g), item('s2', g)], g % 2 === 0));
  // ...and the journal, fdatasynced with every durable group
  copyFileSync(journalFile(store.file!), journalFile(join(disk, 'warden.db')));
  chain.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { disk, written };
}

describe('audit journal', () => {
  it('puts back the groups an OS crash took from the store, hash for hash, and the chain verifies', async () => {
    const { disk, written } = await crashAfter(3, 4);
    const store = await openStore({ store: 'sqlite', dataDir: disk });
    try {
      const before = await store.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(before.n), 3 * 2, 'the copy lacks the last groups (the crash is real)');
      const log = await openAuditLog(store, { dataDir: disk });
      const rows = await store.db.selectFrom('events').select(['seq', 'hash']).orderBy('seq').execute();
      assert.equal(rows.length, 7 * 2);
      const last = written.at(-1)!;
      assert.equal(rows.at(-1)!.hash, last.hashes.at(-1), 'the replayed tail has the hashes the writer handed out');
      const heads = await store.db.selectFrom('signed_heads').select(['n', 'signature']).where('kind', '=', 'batch').orderBy('n').execute();
      assert.ok(heads.some((h) => h.signature === last.signed.signature), 'the signed head of the last group is back as it was signed');
      const sessions = await store.db.selectFrom('sessions').select(['id', 'commands']).execute();
      assert.equal(sessions.length, 0, 'no session.start in these events: no projection rows made up');
      const v = await log.verify();
      assert.equal(v.ok, true, v.ok ? '' : v.problem);
      // appends go on from the replayed head
      const e = await log.append({ type: 'command', sessionId: 's1', actor: 'alice', data: { text: 'after' } });
      assert.equal(e.seq, 7 * 2 + 1);
      await log.close();
      assert.equal((await verifyAudit(store, disk)).ok, true);
      assert.deepEqual(readJournal(join(disk, 'warden.db')), [], 'a closed writer leaves its journal empty');
    } finally {
      await store.close();
      rmSync(disk, { recursive: true, force: true });
    }
  });

  it('stops at a torn record: what follows it was never acknowledged', async () => {
    const { disk } = await crashAfter(2, 3);
    const jf = journalFile(join(disk, 'warden.db'));
    const records = readJournal(join(disk, 'warden.db'));
    assert.equal(records.length, 5);
    // tear the fourth record (a byte of its payload): replay keeps groups 1-3 only
    const buf = readFileSync(jf);
    let pos = 0;
    for (let i = 0; i < 3; i++) pos += 8 + buf.readUInt32LE(pos);
    buf[pos + 8 + 10] ^= 0xff;
    writeFileSync(jf, buf);
    const store = await openStore({ store: 'sqlite', dataDir: disk });
    try {
      const log = await openAuditLog(store, { dataDir: disk });
      const n = await store.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(n.n), 3 * 2);
      assert.equal((await log.verify()).ok, true);
      await log.close();
    } finally {
      await store.close();
      rmSync(disk, { recursive: true, force: true });
    }
  });

  it('refuses a journal that does not follow the store (a gap), naming the journal', async () => {
    const { disk } = await crashAfter(2, 3);
    const jf = journalFile(join(disk, 'warden.db'));
    // drop the first lost group from the journal: the rest no longer follows the store's head
    const buf = readFileSync(jf);
    let pos = 0;
    for (let i = 0; i < 2; i++) pos += 8 + buf.readUInt32LE(pos);
    const next = pos + 8 + buf.readUInt32LE(pos);
    const cut = Buffer.concat([buf.subarray(0, pos), buf.subarray(next), Buffer.alloc(next - pos)]);
    writeFileSync(jf, cut);
    const store = await openStore({ store: 'sqlite', dataDir: disk });
    try {
      await assert.rejects(openAuditLog(store, { dataDir: disk }), (e: Error) => e.message.includes(jf) && /do not follow/.test(e.message));
      const n = await store.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(n.n), 2 * 2, 'nothing was written from a journal that does not follow');
    } finally {
      await store.close();
      rmSync(disk, { recursive: true, force: true });
    }
  });

  it('refuses a journal whose group does not hash to its signed head', async () => {
    const { disk } = await crashAfter(1, 2);
    const jf = journalFile(join(disk, 'warden.db'));
    const records = readJournal(join(disk, 'warden.db'));
    records[1]!.items[0]!.dataJson = canonicalJson({ commandId: 'x', text: 'DROP TABLE accounts' }); // an edited event
    const bufs = records.map((r) => {
      const payload = Buffer.from(JSON.stringify(r));
      const h = Buffer.alloc(8);
      h.writeUInt32LE(payload.length, 0);
      h.writeUInt32LE(crc32(payload), 4);
      return Buffer.concat([h, payload]);
    });
    const body = Buffer.concat(bufs);
    writeFileSync(jf, Buffer.concat([body, Buffer.alloc(readFileSync(jf).length - body.length)]));
    const store = await openStore({ store: 'sqlite', dataDir: disk });
    try {
      await assert.rejects(openAuditLog(store, { dataDir: disk }), /does not hash to its signed head/);
    } finally {
      await store.close();
      rmSync(disk, { recursive: true, force: true });
    }
  });
});
