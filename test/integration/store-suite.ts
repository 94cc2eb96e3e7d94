// Repository behaviour every store backend must share (SQLite: store-sqlite.test.ts,
// Postgres: store-postgres.test.ts): API keys, and the sessions projection the audit
// writer keeps, read back for replay.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createApiKey, findApiKey, listApiKeys, listSessions, getSession, revokeApiKey, touchApiKey, openStore, type Store } from '../../src/store/index.ts';
import { openAuditLog } from '../../src/audit/index.ts';
import { claim, unclaim } from '../../src/store/gateway-state.ts';
import { findSshKey, insertSshKey, listSshKeys, removeSshKey, type SshKeyRecord } from '../../src/store/ssh-keys.ts';
import { resolveSshKey } from '../../src/identity/ssh-keys.ts';

export interface StoreBackend {
  name: string;
  /** the `gateway.store` value */
  store: string;
  dataDir: string;
}

export function storeSuite(backend: () => StoreBackend): void {
  describe(`store repositories (${backend().name})`, () => {
    const open = () => openStore({ store: backend().store, dataDir: backend().dataDir });

    it('opens an existing store again (migrations run once)', async () => {
      const a = await open();
      const b = await open();
      const head = await b.db.selectFrom('chain_head').selectAll().execute();
      assert.equal(head.length, 1);
      await a.close();
      await b.close();
    });

    it('a once-per-store claim is won by exactly one of several racing callers', async () => {
      const [a, b] = [await open(), await open()];
      try {
        const name = `once-${process.pid}-${Date.now()}`;
        const wins = await Promise.all([claim(a, name, 'a'), claim(b, name, 'b'), claim(a, name, 'c'), claim(b, name, 'd')]);
        assert.equal(wins.filter(Boolean).length, 1);
        assert.equal(await claim(a, name, 'e'), false);
        await unclaim(a, name);
        assert.equal(await claim(b, name, 'f'), true);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('creates, finds, lists, touches and revokes API keys; stores only a hash', async () => {
      const store = await open();
      try {
        const k = await createApiKey(store, { name: 'ci-bot', groups: ['engineers', 'ai-agents'] });
        assert.match(k.token, /^wdn_[A-Za-z0-9_-]{43}$/);
        assert.match(k.id, /^[0-9a-f]{12}$/);
        assert.equal(k.expiresAt, null);

        const found = await findApiKey(store, k.token);
        assert.ok(found);
        assert.equal(found.id, k.id);
        assert.equal(found.name, 'ci-bot');
        assert.deepEqual(found.groups, ['engineers', 'ai-agents']);
        assert.equal(found.revokedAt, null);
        assert.equal(await findApiKey(store, k.token + 'x'), null);
        assert.equal(await findApiKey(store, 'not-a-token'), null);

        const raw = await store.db.selectFrom('api_keys').selectAll().where('id', '=', k.id).executeTakeFirstOrThrow();
        assert.equal(raw.token_hash, createHash('sha256').update(k.token).digest('hex'));
        assert.ok(!JSON.stringify(raw).includes(k.token.slice(4)), 'the token itself is not stored');

        const before = Date.now();
        const t = await createApiKey(store, { name: 'temp', groups: [], ttlMs: 3_600_000 });
        assert.ok(t.expiresAt !== null && t.expiresAt >= before + 3_600_000 && t.expiresAt <= Date.now() + 3_600_000);
        assert.equal((await findApiKey(store, t.token))?.expiresAt, t.expiresAt);
        await assert.rejects(createApiKey(store, { name: 'bad', groups: [], ttlMs: -1 }), /positive/);

        await touchApiKey(store, k.id, 1_000_000);
        assert.equal((await findApiKey(store, k.token))?.lastUsedAt, 1_000_000);
        await touchApiKey(store, k.id, 1_030_000); // within a minute: not written again
        assert.equal((await findApiKey(store, k.token))?.lastUsedAt, 1_000_000);
        await touchApiKey(store, k.id, 1_070_000);
        assert.equal((await findApiKey(store, k.token))?.lastUsedAt, 1_070_000);

        const ids = (await listApiKeys(store)).map((r) => r.id);
        assert.ok(ids.includes(k.id) && ids.includes(t.id));

        assert.equal(await revokeApiKey(store, k.id), 1);
        assert.equal(await revokeApiKey(store, k.id), 0, 'already revoked');
        const revoked = await findApiKey(store, k.token);
        assert.ok(revoked?.revokedAt, 'a revoked key is still found, so the caller can say why');
        assert.ok(!(await listApiKeys(store)).some((r) => r.id === k.id));
        assert.ok((await listApiKeys(store, { includeRevoked: true })).some((r) => r.id === k.id));

        await createApiKey(store, { name: 'twin', groups: [] });
        await createApiKey(store, { name: 'twin', groups: [] });
        assert.equal(await revokeApiKey(store, 'twin'), 2, 'by name: every live key of that name');
        assert.equal(await revokeApiKey(store, 'nobody'), 0);
      } finally {
        await store.close();
      }
    });

    it('projects sessions from audit events and replays them in order', async () => {
      const store = await open();
      try {
        const log = await openAuditLog(store, { dataDir: backend().dataDir });
        const identity = { kind: 'apikey', subject: 'k1', name: 'alice', groups: ['engineers'] };
        const start = (id: string, connection: string) => ({
          type: 'session.start',
          sessionId: id,
          actor: 'alice',
          data: { connection, connectionType: 'postgres', protocol: 'postgres', clientAddr: '127.0.0.1:5555', identity, attributes: {} },
        });
        const id1 = `sess-${backend().name}-1`;
        const id2 = `sess-${backend().name}-2`;
        // Session 1: start, commands and end in separate transactions.
        const t0 = new Date().toISOString();
        await log.append(start(id1, 'app-db'));
        for (let i = 0; i < 3; i++) {
          await log.append({ type: 'command', sessionId: id1, actor: 'alice', data: { commandId: `${id1}:${i + 1}`, text: `select ${i}`, decision: 'allow' } });
          await log.append({ type: 'result', sessionId: id1, actor: 'alice', data: { commandId: `${id1}:${i + 1}`, rowCount: 1, durationMs: 0.5, rows: [[String(i)]] } }, { durable: false });
        }
        await log.append({ type: 'session.end', sessionId: id1, actor: 'alice', data: { reason: 'client closed', commands: 3 } });
        // Session 2: everything in one batch (start, commands and end in one transaction).
        await Promise.all([
          log.append(start(id2, 'other-db')),
          log.append({ type: 'command', sessionId: id2, actor: 'alice', data: { text: 'select 1' } }),
          log.append({ type: 'command', sessionId: id2, actor: 'alice', data: { text: 'select 2' } }),
          log.append({ type: 'session.end', sessionId: id2, actor: 'alice', data: { reason: 'terminated' } }),
        ]);
        await log.close();

        const s1 = await getSession(store, id1);
        assert.ok(s1);
        assert.equal(s1.session.connection, 'app-db');
        assert.equal(s1.session.connectionType, 'postgres');
        assert.equal(s1.session.protocol, 'postgres');
        assert.equal(s1.session.identityName, 'alice');
        assert.deepEqual(s1.session.identity, identity);
        assert.equal(s1.session.clientAddr, '127.0.0.1:5555');
        assert.equal(s1.session.commands, 3);
        assert.equal(s1.session.endReason, 'client closed');
        assert.ok(s1.session.endedAt && s1.session.endedAt >= s1.session.startedAt);
        assert.deepEqual(s1.events.map((e) => e.type), ['session.start', 'command', 'result', 'command', 'result', 'command', 'result', 'session.end']);
        assert.deepEqual(s1.events[2].data.rows, [['0']]);
        const seqs = s1.events.map((e) => e.seq);
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
        assert.equal(s1.events[1].prevHash.length, 64);

        const s2 = await getSession(store, id2);
        assert.equal(s2?.session.commands, 2);
        assert.equal(s2?.session.endReason, 'terminated');

        const page = await getSession(store, id1, { afterSeq: s1.events[3].seq, limit: 2 });
        assert.deepEqual(page?.events.map((e) => e.seq), seqs.slice(4, 6));
        assert.equal(await getSession(store, 'no-such-session'), null);

        const mine = (await listSessions(store, { since: t0 })).filter((s) => s.id === id1 || s.id === id2);
        assert.equal(mine.length, 2);
        assert.deepEqual((await listSessions(store, { connection: 'other-db', since: Date.parse(t0) })).map((s) => s.id), [id2]);
        assert.equal((await listSessions(store, { limit: 1 })).length, 1);
        assert.equal((await listSessions(store, { since: Date.now() + 60_000 })).length, 0);
      } finally {
        await store.close();
      }
    });

    it('stores awkward text exactly as it was hashed', async () => {
      const store = await open();
      try {
        const log = await openAuditLog(store, { dataDir: backend().dataDir });
        const id = `odd-${backend().name}`;
        const data = { s: 'NULL', q: '"quoted" \\back\\ {braces},[]', u: 'é 😀 \u0000 \ud800 end', n: -0.000001, big: 2 ** 52 };
        await log.append({ type: 'command', sessionId: id, actor: 'NULL', data });
        await log.append({ type: 'command', sessionId: id, actor: 'o\'brien "x"', data: { nested: [{ '': null }] } }, { durable: false });
        await assert.rejects(log.append({ type: 'command', actor: 'a\u0000b', data: {} }), /NUL/);
        await log.close();
        const back = await store.db.selectFrom('events').selectAll().where('session_id', '=', id).orderBy('seq').execute();
        assert.equal(back[0].actor, 'NULL');
        assert.deepEqual(JSON.parse(back[0].data), data);
        assert.equal(back[1].actor, 'o\'brien "x"');
        const v = await log.verify();
        assert.equal(v.ok, true, v.problem);
      } finally {
        await store.close();
      }
    });

    it('refuses a store it does not know', async () => {
      await assert.rejects(openStore({ store: 'mysql://u:secret@h/db', dataDir: backend().dataDir }), (e: Error) => {
        assert.match(e.message, /sqlite.*postgres/);
        assert.ok(!e.message.includes('secret'), 'no password in the message');
        return true;
      });
    });
    it('ssh keys: one live registration per fingerprint, listed per owner, removed, re-registered once dead; a revoked token kills it', async () => {
      const s = await open();
      try {
        const fp = `SHA256:test-${process.pid}-${Date.now()}`;
        const subject = `u-${fp}`;
        const row = (over: Partial<SshKeyRecord> = {}): SshKeyRecord => ({
          fingerprint: fp, publicKey: 'ssh-ed25519 AAAA', comment: 'c', owner: { kind: 'user', subject, name: 'ann' }, groups: ['dev'],
          apiKeyId: null, credentialIds: [`jti-${fp}`], createdAt: Date.now(), expiresAt: Date.now() + 60_000, revokedAt: null, ...over,
        });
        assert.equal(await insertSshKey(s, row()), true);
        assert.equal(await insertSshKey(s, row({ owner: { kind: 'user', subject: 'someone-else', name: 'eve' } })), false);
        assert.deepEqual((await listSshKeys(s, { kind: 'user', subject })).map((k) => [k.fingerprint, k.groups, k.credentialIds]), [[fp, ['dev'], [`jti-${fp}`]]]);
        assert.equal((await listSshKeys(s, { kind: 'user', subject: 'someone-else' })).length, 0);
        const who = await resolveSshKey({ store: s, isRevokedId: () => false }, fp);
        assert.deepEqual([who.name, who.groups, who.credentialId, who.sourceCredentialId], ['ann', ['dev'], `sshkey:${fp}`, `jti-${fp}`]);
        await s.db.insertInto('revoked_tokens').values({ jti: `jti-${fp}`, revoked_at: Date.now(), expires_at: Date.now() + 1000 }).execute();
        await assert.rejects(resolveSshKey({ store: s, isRevokedId: () => false }, fp), /was revoked/);
        assert.equal(await removeSshKey(s, fp, { kind: 'user', subject: 'someone-else' }), false);
        assert.equal(await removeSshKey(s, fp, { kind: 'user', subject }), true);
        assert.notEqual((await findSshKey(s, fp))!.revokedAt, null);
        // dead now: another identity may register it
        assert.equal(await insertSshKey(s, row({ owner: { kind: 'user', subject: 'someone-else', name: 'eve' }, credentialIds: [] })), true);
        assert.equal((await findSshKey(s, fp))!.owner.name, 'eve');
      } finally {
        await s.close();
      }
    });
  });
}

export type { Store };
