// Chains written before signed heads (a checkpoint every N events and one on close),
// shared by the SQLite and the Postgres run. The fixture writes such a chain the way
// the old writer did, with the old checkpoint message encoded here on purpose (that
// format is frozen), and the tests check it still verifies and how it is carried over.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateKey } from '../../src/audit/keys.ts';
import { CHECKPOINT_FILE, canonicalJson, eventHash, GENESIS_HASH, openAuditLog, verifyAudit } from '../../src/audit/index.ts';
import type { ChainBackend, Fresh } from './audit-chain-suite.ts';

const EVERY = 10;

/** Events 1..count, a checkpoint every EVERY and (closed) one at the end, in the store and the data dir's old file. */
async function writeLegacyChain({ store, dataDir }: Fresh, count: number, closed: boolean): Promise<void> {
  const key = loadOrCreateKey(dataDir);
  const priv = createPrivateKey(key.privatePem);
  let prev = GENESIS_HASH;
  const ts = '2025-06-01T12:00:00.000Z';
  for (let seq = 1; seq <= count; seq++) {
    const data = canonicalJson({ seq, text: `select ${seq}` });
    const hash = eventHash(prev, { seq, ts, type: 'command', sessionId: 's', actor: 'old', dataJson: data });
    await store.db.insertInto('events').values({ seq, ts, type: 'command', session_id: 's', actor: 'old', data, prev_hash: prev, hash }).execute();
    if (seq % EVERY === 0 || (closed && seq === count)) {
      const cp = { seq, hash, ts, signature: sign(null, Buffer.from(`${seq}\n${hash}`), priv).toString('base64'), keyId: key.keyId };
      await store.db.insertInto('checkpoints').values({ seq, hash, ts, signature: cp.signature, key_id: cp.keyId }).execute();
      appendFileSync(join(dataDir, CHECKPOINT_FILE), JSON.stringify(cp) + '\n');
    }
    prev = hash;
  }
  await store.db.updateTable('chain_head').set({ seq: count, hash: prev }).where('id', '=', 1).execute();
}

async function withFresh(backend: ChainBackend, fn: (f: Fresh) => Promise<void>): Promise<void> {
  const f = await backend.fresh();
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

export function legacySuite(backend: ChainBackend): void {
  describe(`audit chains from before signed heads (${backend.name})`, () => {
    it('verify as before; the first writer adopts the chain with a head and goes on', () =>
      withFresh(backend, async (f) => {
        await writeLegacyChain(f, 23, true);
        let v = await verifyAudit(f.store, f.dataDir);
        assert.deepEqual([v.ok, v.count, v.heads, v.checkpoints], [true, 23, 0, 3], v.problem);

        // signEveryMs 0: a head with the batch, as the Postgres writer always signs
        const log = await openAuditLog(f.store, { dataDir: f.dataDir, signEveryMs: 0 });
        await Promise.all(Array.from({ length: 5 }, (_, i) => log.append({ type: 'command', data: { i } })));
        await log.close();
        const heads = await f.store.db.selectFrom('signed_heads').select(['n', 'seq', 'kind']).orderBy('n').execute();
        assert.deepEqual(heads.map((h) => [Number(h.n), Number(h.seq), h.kind]), [[1, 23, 'adopt'], [2, 23, 'beat'], [3, 28, 'batch'], [4, 28, 'close']]);
        v = await verifyAudit(f.store, f.dataDir);
        assert.deepEqual([v.ok, v.count, v.heads, v.checkpoints], [true, 28, 4, 3], v.problem);
      }));

    it('a changed event of an old chain is named, and no head is signed over it', () =>
      withFresh(backend, async (f) => {
        await writeLegacyChain(f, 23, true);
        await f.store.db.updateTable('events').set({ data: canonicalJson({ seq: 15, text: 'select 0' }) }).where('seq', '=', 15).execute();
        const v = await verifyAudit(f.store, f.dataDir);
        assert.deepEqual([v.ok, v.kind, v.brokenSeq], [false, 'changed', 15]);
        await assert.rejects(openAuditLog(f.store, { dataDir: f.dataDir }), /written before them, and it does not verify: event 15 was changed/);
        const heads = await f.store.db.selectFrom('signed_heads').selectAll().execute();
        assert.equal(heads.length, 0);
      }));

    it('an old chain whose gateway never closed has an unsigned tail: refused until sealed on purpose', () =>
      withFresh(backend, async (f) => {
        await writeLegacyChain(f, 23, false);
        let v = await verifyAudit(f.store, f.dataDir);
        assert.deepEqual([v.ok, v.kind, v.brokenSeq], [false, 'unsigned', 21]);
        assert.match(v.problem ?? '', /events 21\.\.23 are covered by no signed head: no head or checkpoint was ever signed over them/);
        await assert.rejects(openAuditLog(f.store, { dataDir: f.dataDir }), /`warden audit seal` adopts it as it is/);
        await (await openAuditLog(f.store, { dataDir: f.dataDir, adopt: 'as-is' })).close();
        v = await verifyAudit(f.store, f.dataDir);
        assert.equal(v.ok, true, v.problem);
        assert.equal(v.count, 23);
      }));
  });
}
