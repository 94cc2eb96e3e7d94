// Someone who can write the store (the SQLite file, or the Postgres database several
// gateways share) and, in places, the data dir, tries to rewrite or cut the audit
// chain. Each attack is done with plain SQL on the store, as an intruder would, on both
// stores; the ground truth checked is what `audit verify` says, and that no gateway
// signs over (or appends onto) the forged chain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/index.ts';
import { openAuditLog, verifyAudit, eventHash, canonicalJson, type AuditLog, type AuditLogOptions, type VerifyOptions } from '../../src/audit/index.ts';

const N = 35;
const HEADS = 'audit-heads.jsonl';
const LEGACY_CHECKPOINTS = 'audit-checkpoints.jsonl';
const ADMIN = process.env.WARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pgDb = `warden_attack_${randomBytes(5).toString('hex')}`;
const pgUrl = (() => {
  const u = new URL(ADMIN);
  u.pathname = `/${pgDb}`;
  return u.toString();
})();
let root = '';
let n = 0;

async function admin(q: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'warden-audit-attack-'));
  await admin(`CREATE DATABASE ${pgDb}`);
});
after(async () => {
  await admin(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`);
  await rm(root, { recursive: true, force: true });
});

// Tables a chain may keep its signatures in (the second does not exist everywhere).
async function deleteRows(store: Store, table: string, where: (q: any) => any = (q) => q): Promise<void> {
  try {
    await where((store.db as any).deleteFrom(table)).execute();
  } catch (e) {
    if (!/no such table|does not exist/.test((e as Error).message)) throw e;
  }
}

async function fresh(kind: 'sqlite' | 'postgres'): Promise<{ store: Store; dataDir: string }> {
  const dataDir = join(root, `${kind}-${++n}`);
  const store = await openStore({ store: kind === 'sqlite' ? 'sqlite' : pgUrl, dataDir });
  if (kind === 'postgres') {
    await store.db.deleteFrom('events').execute();
    await store.db.deleteFrom('sessions').execute();
    await deleteRows(store, 'checkpoints');
    await deleteRows(store, 'signed_heads');
    await store.db.updateTable('chain_head').set({ seq: 0, hash: '0'.repeat(64) }).where('id', '=', 1).execute();
  }
  return { store, dataDir };
}

// Options as a deployment gives them: the default checkpoint spacing of older versions.
// signEveryMs 0: a head with every group commit on both stores, so each attack meets
// the head it expects; the same attacks inside a signEvery window: audit-sign-every.test.ts.
const logOptions = (dataDir: string, extra: Record<string, unknown> = {}) =>
  ({ dataDir, checkpointEvery: 1000, shipGapMs: 0, signEveryMs: 0, ...extra }) as unknown as AuditLogOptions;

/** N events in groups of 5 (one group commit each), the log left open: a running gateway. */
async function running(kind: 'sqlite' | 'postgres') {
  const f = await fresh(kind);
  const log = await openAuditLog(f.store, logOptions(f.dataDir));
  for (let g = 0; g < N; g += 5) {
    await Promise.all(Array.from({ length: 5 }, (_, k) => log.append({ type: 'command', sessionId: 's1', actor: 'mallory', data: { i: g + k + 1, text: `select ${g + k + 1}` } })));
  }
  return { ...f, log };
}

const row = (store: Store, seq: number) => store.db.selectFrom('events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
const lastSeq = async (store: Store) => Number((await store.db.selectFrom('events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirstOrThrow()).m);

/** Change event `from` and recompute every hash after it, and the chain head, as a forger would. */
async function rehashFrom(store: Store, from: number, last: number, data: unknown): Promise<void> {
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

/** Cut events after `keep` with whatever signed them, and rewind the chain head. */
async function cutTail(store: Store, keep: number): Promise<void> {
  await store.db.deleteFrom('events').where('seq', '>', keep).execute();
  await deleteRows(store, 'checkpoints', (q) => q.where('seq', '>', keep));
  await deleteRows(store, 'signed_heads', (q) => q.where('seq', '>', keep));
  await store.db.updateTable('chain_head').set({ seq: keep, hash: (await row(store, keep)).hash }).where('id', '=', 1).execute();
}

async function closeQuietly(log: AuditLog): Promise<void> {
  await log.close().catch(() => {});
}

function publicKeyOf(privatePem: string) {
  const publicKey = createPublicKey(privatePem);
  return { publicKey, keyId: createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16) };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`audit chain attacks by a store writer (${kind})`, () => {
    it('rewriting the last events and the chain head of a running gateway is caught, and nothing is signed or appended over it', async () => {
      const { store, dataDir, log } = await running(kind);
      try {
        await rehashFrom(store, 33, N, { i: 33, text: 'select nothing to see' });
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.ok, false, 'verify passes a rewritten tail');
        assert.equal(v.kind, 'changed');
        assert.equal(v.brokenSeq, N);
        assert.match(v.problem ?? '', /event 35 is not the event signed head #7 names/);
        await assert.rejects(log.append({ type: 'command', data: { i: 36 } }), /audit chain tampered: the chain head \(event 35\)|tampered/);
        assert.equal(await lastSeq(store), N, 'no event was chained onto the forgery');
      } finally {
        await closeQuietly(log);
        await store.close();
      }
    });

    it('cutting the tail off a running gateway shows: to the gateway itself, in the data dir copy, and as a stale head', async () => {
      const { store, dataDir, log } = await running(kind);
      try {
        await log.flush();
        await cutTail(store, 30);
        let v = await log.verify();
        assert.equal(v.ok, false, "the gateway's own verify passes a cut tail");
        assert.equal(v.kind, 'truncated');
        assert.equal(v.brokenSeq, 31);

        await assert.rejects(log.append({ type: 'command', data: { i: 31 } }), /tampered: .*rewound/);
        assert.equal(await lastSeq(store), 30, 'the gateway did not continue the rewound chain');
        await closeQuietly(log);

        // An intruder who empties the data dir's copy too leaves a store-only view whose
        // newest head is from before the cut: stale once a running gateway would have signed a newer one.
        await writeFile(join(dataDir, HEADS), '');
        await writeFile(join(dataDir, LEGACY_CHECKPOINTS), '');
        v = await verifyAudit(store, dataDir, { now: Date.now() + 5 * 60_000 } as VerifyOptions);
        assert.equal(v.ok, false, 'verify passes a cut tail with a stale head');
        assert.equal(v.kind, 'stale');
        assert.equal(v.brokenSeq, 31);
      } finally {
        await closeQuietly(log);
        await store.close();
      }
    });

    it('a gateway restarted on a store rewound behind its data dir copy refuses to sign over it', async () => {
      const { store, dataDir, log } = await running(kind);
      await log.close();
      try {
        await cutTail(store, 30);
        await assert.rejects(openAuditLog(store, logOptions(dataDir)).then(closeQuietly), /not the one its signed heads were shipped from/);
        assert.equal(await lastSeq(store), 30);
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.kind, 'truncated');
      } finally {
        await store.close();
      }
    });

    it('events appended without the key are not covered by a head, and no gateway adopts them', async () => {
      const { store, dataDir, log } = await running(kind);
      await log.close();
      try {
        const last = await row(store, N);
        const forged = { seq: N + 1, ts: new Date().toISOString(), type: 'command', session_id: 's1', actor: 'alice', data: canonicalJson({ text: 'GRANT ALL TO mallory' }), prev_hash: last.hash };
        const hash = eventHash(last.hash, { seq: forged.seq, ts: forged.ts, type: forged.type, sessionId: forged.session_id, actor: forged.actor, dataJson: forged.data });
        await store.db.insertInto('events').values({ ...forged, hash }).execute();
        await store.db.updateTable('chain_head').set({ seq: N + 1, hash }).where('id', '=', 1).execute();
        const v = await verifyAudit(store, dataDir);
        assert.equal(v.ok, false, 'verify passes a forged event at the tail');
        assert.equal(v.kind, 'unsigned');
        assert.equal(v.brokenSeq, N + 1);
        await assert.rejects(openAuditLog(store, logOptions(dataDir)).then(closeQuietly), /tampered: events 36\.\.36 follow the newest signed head/);
        assert.equal(await store.db.selectFrom('events').selectAll().where('seq', '>', N + 1).execute().then((r) => r.length), 0);
      } finally {
        await store.close();
      }
    });

    it('a chain rewritten and re-signed with a new key put in the data dir passes only until the key is pinned', async () => {
      const { store, dataDir, log } = await running(kind);
      await log.close();
      try {
        const pinned = publicKeyOf(await readFile(join(dataDir, 'audit-key.pem'), 'utf8'));
        // Rewrite from event 17 on, throw away every signature and copy, and sign it all
        // again with a key of the intruder's own, through Warden itself.
        await rehashFrom(store, 17, N, { i: 17, text: 'select 1' });
        await deleteRows(store, 'signed_heads');
        await deleteRows(store, 'checkpoints');
        for (const f of [HEADS, LEGACY_CHECKPOINTS]) await rm(join(dataDir, f), { force: true });
        const { privateKey } = generateKeyPairSync('ed25519');
        await writeFile(join(dataDir, 'audit-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
        await (await openAuditLog(store, logOptions(dataDir, { adopt: 'as-is' }))).close();

        const unpinned = await verifyAudit(store, dataDir);
        assert.equal(unpinned.ok, true, "with the data dir's key, the re-signed chain looks intact");
        const v = await verifyAudit(store, dataDir, { publicKey: pinned } as VerifyOptions);
        assert.equal(v.ok, false, 'verify with a pinned key passes a chain signed by another key');
        assert.equal(v.kind, 'head');
        assert.match(v.problem ?? '', new RegExp(`signed head #1 was signed by key [0-9a-f]{16}, not by the pinned key ${pinned.keyId}`));
        // A gateway with the key pinned in its config refuses the swapped key outright.
        await assert.rejects(openAuditLog(store, logOptions(dataDir, { publicKey: pinned })).then(closeQuietly), /is not the pinned public key/);
      } finally {
        await store.close();
      }
    });
  });
}
