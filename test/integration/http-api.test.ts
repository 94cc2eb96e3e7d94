// The HTTP API: health, metrics, the OpenAPI document, bearer authentication and roles.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { openapi } from '../../src/gateway/openapi.ts';

let t: TestGateway;
const get = (path: string, token?: string) => fetch(t.httpUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });

before(async () => {
  t = await startTestGateway({ connections: [localPostgres('api-db', { description: 'the api test db', password: 'never-shown-pw' })] });
});
after(() => t.close());

test('healthz, metrics and the OpenAPI document are served', async () => {
  const h = await get('/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { status: 'ok', store: 'sqlite' });
  const m = await (await get('/metrics')).text();
  assert.match(m, /# TYPE warden_sessions_total counter/);
  assert.match(m, /warden_sessions_active 0/);
  const doc = (await (await get('/api/v1/openapi.json')).json()) as typeof openapi;
  assert.equal(doc.openapi, '3.1.0');
  for (const p of ['/api/v1/sessions', '/api/v1/sessions/{id}', '/api/v1/tokens', '/api/v1/connections', '/api/v1/audit/verify', '/api/v1/whoami']) assert.ok(p in doc.paths, p);
  const missing = await get('/api/v1/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: 'not found' });
});

test('no token, a forged token and an expired token get 401; roles gate the rest', async () => {
  assert.equal((await get('/api/v1/sessions')).status, 401);
  assert.equal((await get('/api/v1/sessions', 'wdn_forged')).status, 401);
  const expired = await t.gw.services.createToken({ name: 'old', groups: ['admin'], ttlMs: 1 }, 'test');
  await new Promise((r) => setTimeout(r, 20));
  const e = await get('/api/v1/sessions', expired.token);
  assert.equal(e.status, 401);
  assert.deepEqual(await e.json(), { error: 'invalid or expired token' });
  const user = await t.token(['dev'], 'plain-user');
  assert.equal((await get('/api/v1/sessions', user)).status, 403);
  assert.equal((await get('/api/v1/audit/verify', user)).status, 403);
  const auditor = await t.token(['auditor'], 'auditor');
  assert.equal((await get('/api/v1/sessions', auditor)).status, 200);
  const create = await fetch(t.httpUrl + '/api/v1/tokens', { method: 'POST', headers: { authorization: `Bearer ${auditor}`, 'content-type': 'application/json' }, body: '{"name":"x"}' });
  assert.equal(create.status, 403);
  const who = (await (await get('/api/v1/whoami', user)).json()) as { name: string; groups: string[] };
  assert.deepEqual([who.name, who.groups], ['plain-user', ['dev']]);
  await t.gw.services.audit.flush();
  const denied = (await t.gw.services.store.db.selectFrom('events').select(['type', 'data']).where('type', '=', 'auth.denied').execute()).map((r) => JSON.parse(r.data).reason);
  assert.ok(denied.includes('unknown token') && denied.includes('token expired'), JSON.stringify(denied));
});

test('token creation validates its input and names the field', async () => {
  const post = (body: unknown) => fetch(t.httpUrl + '/api/v1/tokens', { method: 'POST', headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const bad = await post({ name: 'x', ttl: 'forever' });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /^ttl: invalid duration "forever"/);
  assert.match(((await (await post({ groups: ['a'] })).json()) as { error: string }).error, /^name:/);
  const ok = await post({ name: 'agent', groups: ['dev'], ttl: '1h' });
  assert.equal(ok.status, 201);
  const body = (await ok.json()) as { token: string; expiresAt: string };
  assert.match(body.token, /^wdn_/);
  assert.ok(Date.parse(body.expiresAt) > Date.now() + 3500_000);
});

test('sessions and connections over the API; connections never carry credentials', async () => {
  const token = await t.token(['dev'], 'api-user');
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'api-db', password: token, database: 'api-db' });
  await c.connect();
  await c.query('SELECT $1::text AS greeting', ['hello']);
  await c.end();
  await t.gw.services.audit.flush();
  const conns = await (await get('/api/v1/connections', token)).text();
  assert.match(conns, /"name":"api-db"/);
  assert.doesNotMatch(conns, /never-shown-pw|password/);
  const outsider = await t.token(['other'], 'outsider');
  assert.deepEqual(await (await get('/api/v1/connections', outsider)).json(), []);
  const list = (await (await get('/api/v1/sessions?limit=10', t.adminToken)).json()) as { id: string; identityName: string }[];
  const s = list.find((x) => x.identityName === 'api-user')!;
  const detail = (await (await get(`/api/v1/sessions/${s.id}`, t.adminToken)).json()) as { events: { type: string; data: Record<string, unknown> }[] };
  const cmd = detail.events.find((e) => e.type === 'command')!;
  assert.equal(cmd.data.text, 'SELECT $1::text AS greeting');
  assert.deepEqual(cmd.data.params, ['hello']);
  const res = detail.events.find((e) => e.type === 'result')!;
  assert.deepEqual(res.data.rows, [['hello']]);
  assert.equal((await get('/api/v1/sessions/does-not-exist', t.adminToken)).status, 404);
  assert.equal((await get('/api/v1/sessions?limit=0', t.adminToken)).status, 400);
});
