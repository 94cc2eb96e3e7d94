// The console's session cookie against the real gateway: a token or a local password is
// exchanged for an HttpOnly SameSite=Strict cookie; the cookie reads the API, but a write it
// authenticates needs the console's header and a same-origin request (CSRF), and it never
// reaches /proxy or /mcp. The page shell is served with caching headers and does not shadow
// the API's JSON answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql } from '../helpers/clients.ts';
import WebSocket from 'ws';

let t: TestGateway;
const H = { 'x-warden-console': '1', 'content-type': 'application/json' };

before(async () => {
  t = await startTestGateway({
    connections: [localPostgres('cons', { rules: [{ name: 'no-where', match: { noWhere: true }, action: 'review', review: { groups: ['approver'] } }] })],
  });
});
after(async () => t?.close());

async function login(body: unknown, headers: Record<string, string> = H): Promise<Response> {
  return fetch(`${t.httpUrl}/auth/session`, { method: 'POST', headers, body: JSON.stringify(body) });
}
function cookieOf(res: Response): string {
  const c = res.headers.get('set-cookie') ?? '';
  return c.split(';')[0]!;
}

test('the admin token becomes an HttpOnly SameSite=Strict cookie that reads the API', async () => {
  const res = await login({ token: t.adminToken });
  assert.equal(res.status, 200);
  const set = res.headers.get('set-cookie')!;
  assert.match(set, /^warden_session=/);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.doesNotMatch(set, new RegExp(t.adminToken), 'the cookie holds a short-lived gateway token, not the API key');
  const body = await res.text();
  assert.doesNotMatch(body, /wdn_|eyJ/, 'no token in the body');
  const me = await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { cookie: cookieOf(res) } });
  assert.equal(me.status, 200);
  assert.deepEqual(((await me.json()) as { roles: string[] }).roles.includes('admin'), true);
  // logout revokes the cookie's token
  const out = await fetch(`${t.httpUrl}/auth/logout`, { method: 'POST', headers: { cookie: cookieOf(res) }, redirect: 'manual' });
  assert.equal(out.status, 302);
  assert.equal((await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { cookie: cookieOf(res) } })).status, 401);
});

test('a malformed cookie is a clear 400, never a 500', async () => {
  const res = await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { cookie: 'warden_session=%E0%A4%A' } });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: string }).error, /malformed session cookie/);
});

test('logins are refused without the console header, from another origin, or with bad credentials', async () => {
  assert.equal((await login({ token: t.adminToken }, { 'content-type': 'application/json' })).status, 403);
  assert.equal((await login({ token: t.adminToken }, { ...H, origin: 'http://127.0.0.1:1' })).status, 403);
  assert.equal((await login({ token: 'wdn_nope' })).status, 401);
  assert.equal((await login({ username: 'nobody', password: 'x' })).status, 401);
  assert.equal((await login({})).status, 400);
});

test('a local user logs in with a password; roles come from groups', async () => {
  await t.gw.services.addUser('ursula', 'correct horse battery', ['auditor'], 'test');
  const res = await login({ username: 'ursula', password: 'correct horse battery' });
  assert.equal(res.status, 200);
  const me = (await (await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { cookie: cookieOf(res) } })).json()) as { name: string; roles: string[] };
  assert.equal(me.name, 'ursula');
  assert.deepEqual(me.roles, ['auditor', 'user']);
  // an auditor is no admin: the tokens page is refused
  assert.equal((await fetch(`${t.httpUrl}/api/v1/console/tokens`, { headers: { cookie: cookieOf(res) } })).status, 403);
});

test('a cookie alone cannot approve (CSRF): the header and the same origin are required; the review stays pending', async () => {
  const alice = await t.token(['dev'], 'alice');
  const table = `cons_${process.pid}`;
  await psql(5432, 'postgres', '', ['-c', `CREATE TABLE IF NOT EXISTS ${table} (id int)`], { dbname: 'postgres' }).catch(() => {});
  const held = await psql(t.pgPort, 'cons', alice, ['-c', `DELETE FROM ${table}`]);
  const id = /review (r[0-9a-f]{12})/.exec(held.stderr)?.[1];
  assert.ok(id, held.stderr);
  const cookie = cookieOf(await login({ token: t.adminToken }));
  const approve = (headers: Record<string, string>) => fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { cookie, 'content-type': 'text/plain', ...headers }, body: 'comment=csrf' });
  assert.equal((await approve({})).status, 403, 'no console header');
  assert.equal((await approve({ 'x-warden-console': '1', origin: 'http://evil.example' })).status, 403, 'foreign origin');
  assert.equal((await approve({ 'x-warden-console': '1', origin: 'null' })).status, 403, 'opaque origin');
  const r = (await (await fetch(`${t.httpUrl}/api/v1/reviews/${id}`, { headers: { cookie } })).json()) as { status: string };
  assert.equal(r.status, 'pending', 'nothing was approved');
  // the console itself (header, same origin) may
  const ok = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { cookie, ...H, origin: t.httpUrl }, body: JSON.stringify({ comment: 'fine' }) });
  assert.equal(ok.status, 200, await ok.clone().text());
  await psql(5432, 'postgres', '', ['-c', `DROP TABLE IF EXISTS ${table}`], { dbname: 'postgres' }).catch(() => {});
});

test('the cookie never authenticates /mcp or /proxy', async () => {
  const cookie = cookieOf(await login({ token: t.adminToken }));
  const mcp = await fetch(`${t.httpUrl}/mcp`, { method: 'POST', headers: { cookie, ...H, accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
  assert.equal(mcp.status, 401);
  // nor a WebSocket handshake (the agent tunnel's), which browsers send with cookies cross-origin
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${t.httpUrl.replace('http', 'ws')}/api/v1/agents/connect`, { headers: { cookie } });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => (ws.close(), resolve(101)));
    ws.on('error', () => resolve(-1));
  });
  assert.equal(status, 401, 'refused as unauthenticated, not judged as the cookie\'s identity');
});

test('the console shell: index.html no-cache, hashed assets immutable, API paths keep their JSON 404', async () => {
  for (const p of ['/', '/reviews', '/reviews/r0123456789ab', '/sessions/abc']) {
    const res = await fetch(t.httpUrl + p);
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get('content-type')!, /text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
    const html = await res.text();
    const asset = /\/assets\/[^"]+\.js/.exec(html)?.[0];
    assert.ok(asset, 'the page names its script');
    const a = await fetch(t.httpUrl + asset);
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  }
  for (const p of ['/api/v1/nope', '/metricsx', '/proxy/none/x', '/reviewsx']) {
    const res = await fetch(t.httpUrl + p);
    assert.equal(res.status, p.startsWith('/proxy') ? res.status : 404, p);
    assert.match(res.headers.get('content-type') ?? '', /json/, p);
  }
  assert.equal((await fetch(`${t.httpUrl}/healthz`)).status, 200);
  const doc = (await (await fetch(`${t.httpUrl}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
  for (const p of ['/auth/session', '/api/v1/console/events', '/api/v1/console/sessions', '/api/v1/console/sessions/{id}/events/{seq}/export', '/api/v1/console/sessions/{id}/end']) assert.ok(p in doc.paths, p);
  assert.equal((await fetch(`${t.httpUrl}/assets/..%2Fpackage.json`)).status, 404);
});

test('an ordinary token gets none of the auditor and admin console routes; the live feed shows it only reviews it may see', async () => {
  const dev = await t.token(['dev'], 'devon');
  const outsider = await t.token(['other'], 'olaf');
  const as = (tok: string, path: string, method = 'GET') => fetch(t.httpUrl + path, { method, headers: { authorization: `Bearer ${tok}` } });
  assert.equal((await as(dev, '/api/v1/console/sessions')).status, 403);
  assert.equal((await as(dev, '/api/v1/console/sessions/x/events/1/export?format=csv')).status, 403);
  assert.equal((await as(dev, '/api/v1/console/sessions/x/end', 'POST')).status, 403);
  assert.equal((await as(dev, '/api/v1/console/tokens')).status, 403);
  const conns = (await (await as(dev, '/api/v1/console/connections')).json()) as { connections: { name: string; rules: unknown[] }[]; rules: unknown[] };
  assert.deepEqual(conns.connections.map((c) => [c.name, c.rules.length]), [['cons', 0]], 'rules only for admins and auditors');
  assert.equal((await as(outsider, '/api/v1/console/connections').then((r) => r.json()) as { connections: unknown[] }).connections.length, 0);
  assert.equal((await fetch(`${t.httpUrl}/api/v1/console/events`)).status, 401);

  // Two live feeds: the requester's and an outsider's. A new review reaches only the first.
  const read = async (tok: string) => {
    const ctl = new AbortController();
    const res = await fetch(`${t.httpUrl}/api/v1/console/events`, { headers: { authorization: `Bearer ${tok}` }, signal: ctl.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    let got = '';
    const pump = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          got += new TextDecoder().decode(value);
        }
      } catch {
        /* aborted */
      }
    })();
    return { text: () => got, stop: async () => (ctl.abort(), await pump) };
  };
  const mine = await read(dev);
  const theirs = await read(outsider);
  const table = `cons_feed_${process.pid}`;
  await psql(5432, 'postgres', '', ['-c', `CREATE TABLE IF NOT EXISTS ${table} (id int)`], { dbname: 'postgres' });
  const held = await psql(t.pgPort, 'cons', dev, ['-c', `DELETE FROM ${table}`]);
  const id = /review (r[0-9a-f]{12})/.exec(held.stderr)![1]!;
  for (let i = 0; i < 100 && !mine.text().includes(id); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(mine.text(), new RegExp(`event: review\\ndata: \\{"type":"review.created","id":"${id}"\\}`));
  await new Promise((r) => setTimeout(r, 200));
  assert.doesNotMatch(theirs.text(), new RegExp(id), 'an outsider hears nothing of it');
  await mine.stop();
  await theirs.stop();
  await psql(5432, 'postgres', '', ['-c', `DROP TABLE IF EXISTS ${table}`], { dbname: 'postgres' });
});
