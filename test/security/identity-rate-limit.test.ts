// Failed authentications are limited per source address and per account name (sliding
// window): a limited client is refused before its credential is even checked, with a
// clear error (Postgres 28000 "too many failed attempts", HTTP 429), and audited (a refused
// credential on its own, rate-limited attempts summed per address: door-dos.test.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql } from '../helpers/clients.ts';

const gateways: TestGateway[] = [];
after(() => Promise.all(gateways.map((g) => g.close())));

async function gateway(rateLimit: Record<string, unknown>): Promise<TestGateway> {
  const t = await startTestGateway({ connections: [localPostgres('rl-db')], auth: { rateLimit } });
  gateways.push(t);
  return t;
}

/** Reasons of audited refusals: one per event, and each summed one as often as it was counted. */
async function codes(t: TestGateway): Promise<string[]> {
  t.gw.services.flushRefusals();
  await t.gw.services.audit.flush();
  const rows = await t.gw.services.store.db.selectFrom('events').select(['type', 'data']).where('type', 'in', ['auth.denied', 'auth.refused_summary']).execute();
  return rows.flatMap((r) => {
    const d = JSON.parse(r.data) as { code?: string; reasons?: Record<string, number> };
    return r.type === 'auth.denied' ? [String(d.code)] : Object.entries(d.reasons ?? {}).flatMap(([k, n]) => Array<string>(n).fill(k));
  });
}

test('per source: after N failures even a valid token is refused, at the Postgres door (28000) and the API (429)', async () => {
  const t = await gateway({ perSource: 3, perAccount: 100, window: '10m' });
  const good = await t.token(['dev'], 'good');
  assert.equal((await psql(t.pgPort, 'rl-db', good, ['-tAc', 'select 1'])).code, 0);
  for (let i = 0; i < 3; i++) {
    const r = await psql(t.pgPort, 'rl-db', `wdn_guess${i}`, ['-tAc', 'select 1']);
    assert.match(r.stderr, /password authentication failed/);
  }
  const limited = await psql(t.pgPort, 'rl-db', good, ['-tAc', 'select 1']);
  assert.notEqual(limited.code, 0);
  assert.match(limited.stderr, /too many failed attempts/);
  const res = await fetch(t.httpUrl + '/api/v1/whoami', { headers: { authorization: `Bearer ${good}` } });
  assert.equal(res.status, 429);
  assert.match(((await res.json()) as { error: string }).error, /too many failed attempts/);
  const c = await codes(t);
  assert.equal(c.filter((x) => x === 'invalid_credential').length, 3);
  assert.ok(c.filter((x) => x === 'rate_limited').length >= 2, JSON.stringify(c));
});

test('per account: wrong passwords for one local user lock that name, not the others', async () => {
  const t = await gateway({ perSource: 100, perAccount: 2, window: '10m' });
  await t.gw.services.addUser('carol', 'carol-password-long', ['dev'], 'test');
  await t.gw.services.addUser('dave', 'dave-password-long', ['dev'], 'test');
  const login = (username: string, password: string) =>
    fetch(t.httpUrl + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal((await login('carol', 'wrong-1')).status, 401);
  assert.equal((await login('carol', 'wrong-2')).status, 401);
  assert.equal((await login('carol', 'carol-password-long')).status, 429);
  assert.equal((await login('dave', 'dave-password-long')).status, 200);
  const c = await codes(t);
  assert.ok(c.includes('rate_limited'));
});
