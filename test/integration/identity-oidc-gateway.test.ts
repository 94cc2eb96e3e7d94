// Identity at the front doors, against a real in-process OpenID provider: IdP access
// tokens as the Postgres password and as API bearer tokens, groups deciding access,
// refused tokens audited with their reason, the client-credentials -> gateway token path
// for agents, the browser login cookie, and no target credential in any response or log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { startOidcProvider, completeBrowserLogin, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql } from '../helpers/clients.ts';

const TARGET_PASSWORD = 'target-pw-never-shown-9f3k';
let idp: TestOidcProvider;
let otherIdp: TestOidcProvider;
let t: TestGateway;
const logLines: string[] = [];
const responses: string[] = [];

before(async () => {
  [idp, otherIdp] = await Promise.all([startOidcProvider(), startOidcProvider()]);
  const sink = new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) });
  t = await startTestGateway({
    connections: [
      localPostgres('eng-db', { access: { groups: ['engineers'] }, password: TARGET_PASSWORD }),
      localPostgres('agents-db', { access: { groups: ['ai-agents'] }, password: TARGET_PASSWORD }),
    ],
    auth: { oidc: { issuer: idp.issuer, clientId: idp.cliClientId, audience: idp.audience }, secureCookie: false },
    log: pino({ level: 'debug' }, sink),
  });
});
after(async () => {
  await t.close();
  await Promise.all([idp.close(), otherIdp.close()]);
});

async function api(path: string, token?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(t.httpUrl + path, { ...init, headers, redirect: 'manual' });
  responses.push(`${[...res.headers].join('\n')}\n${await res.clone().text()}`);
  return res;
}

async function deniedEvents(type = 'auth.denied'): Promise<Record<string, unknown>[]> {
  await t.gw.services.audit.flush();
  const rows = await t.gw.services.store.db.selectFrom('events').select(['data', 'actor']).where('type', '=', type).execute();
  return rows.map((r) => ({ actor: r.actor, ...(JSON.parse(r.data) as Record<string, unknown>) }));
}

test('an IdP access token is the Postgres password for a user in the connection\'s groups, and an API bearer token', async () => {
  const { accessToken } = await idp.userTokens('bob');
  const r = await psql(t.pgPort, 'eng-db', accessToken, ['-tAc', 'select 40 + 2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '42');
  const me = (await (await api('/api/v1/whoami', accessToken)).json()) as { name: string; kind: string; groups: string[]; roles: string[] };
  // The access token carries no verified email: the user is named by its key, issuer + sub.
  assert.deepEqual([me.name, me.kind, me.groups, me.roles], [`${idp.issuer}#bob`, 'user', ['engineers'], ['user']]);
  const ok = await deniedEvents('auth.ok');
  assert.ok(ok.some((e) => e.actor === `${idp.issuer}#bob` && e.frontDoor === 'postgres' && e.connection === 'eng-db'), JSON.stringify(ok));
});

test('a valid user outside the connection\'s groups is refused at psql and at the API, and audited', async () => {
  const { accessToken } = await idp.userTokens('eve');
  const r = await psql(t.pgPort, 'eng-db', accessToken, ['-tAc', 'select 1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not allowed to use connection "eng-db"/);
  assert.equal((await api('/api/v1/sessions', accessToken)).status, 403);
  const conns = (await (await api('/api/v1/connections', accessToken)).json()) as unknown[];
  assert.deepEqual(conns, []);
  const denied = await deniedEvents('access.denied');
  assert.ok(denied.some((e) => e.actor === `${idp.issuer}#eve` && e.connection === 'eng-db' && e.frontDoor === 'postgres'), JSON.stringify(denied));
});

test('expired, wrong-audience and other-IdP tokens are refused at the Postgres door and audited with their reason', async () => {
  const now = Math.floor(Date.now() / 1000);
  const base = { iss: idp.issuer, aud: idp.audience, sub: 'bob', groups: ['engineers'] };
  const cases: [string, string][] = [
    ['expired', await idp.signWithProviderKey({ ...base, iat: now - 7200, exp: now - 3600 })],
    ['wrong_audience', await idp.signWithProviderKey({ ...base, aud: 'someone-else', iat: now, exp: now + 300 })],
    ['wrong_issuer', (await otherIdp.userTokens('bob')).accessToken],
  ];
  for (const [reason, token] of cases) {
    const r = await psql(t.pgPort, 'eng-db', token, ['-tAc', 'select 1']);
    assert.notEqual(r.code, 0, reason);
    assert.match(r.stderr, /password authentication failed/, reason);
  }
  const codes = (await deniedEvents()).filter((e) => e.frontDoor === 'postgres').map((e) => e.code);
  for (const [reason] of cases) assert.ok(codes.includes(reason), `${reason} not audited: ${JSON.stringify(codes)}`);
});

test('client credentials -> exchange -> gateway token: the Postgres password and an API bearer token of a service', async () => {
  const cc = await idp.clientCredentialsToken();
  const res = await api('/api/v1/auth/token', cc, { method: 'POST' });
  assert.equal(res.status, 200);
  const grant = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
  assert.equal(grant.token_type, 'Bearer');
  // No longer than the client-credentials token it was exchanged for (600 s at this IdP).
  assert.ok(grant.expires_in <= 600 && grant.expires_in > 500, String(grant.expires_in));
  const r = await psql(t.pgPort, 'agents-db', grant.access_token, ['-tAc', 'select current_user is not null']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 't');
  const me = (await (await api('/api/v1/whoami', grant.access_token)).json()) as { kind: string; name: string; groups: string[] };
  assert.deepEqual([me.kind, me.name, me.groups], ['service', `${idp.issuer}#agent-ci`, ['ai-agents']]);
  // A gateway token cannot renew itself; a person's token is not exchanged (they log in).
  assert.equal((await api('/api/v1/auth/token', grant.access_token, { method: 'POST' })).status, 403);
  assert.equal((await api('/api/v1/auth/token', (await idp.userTokens('bob')).accessToken, { method: 'POST' })).status, 403);
  const issued = await deniedEvents('auth.token_issued');
  assert.ok(issued.some((e) => e.actor === `${idp.issuer}#agent-ci`));
});

test('revoking a gateway token ends an open Postgres session at its next command', async () => {
  const grant = (await (await api('/api/v1/auth/token', await idp.clientCredentialsToken(), { method: 'POST' })).json()) as { access_token: string };
  const client = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'agents-db', database: 'agents-db', password: grant.access_token });
  await client.connect();
  try {
    assert.equal((await client.query('select 1 as n')).rows[0].n, 1);
    const rv = await api('/api/v1/auth/revoke', undefined, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: grant.access_token }) });
    assert.deepEqual(await rv.json(), { revoked: true });
    await assert.rejects(client.query('select 2'), /revoked/);
    await assert.rejects(client.query('select 3'), /revoked/);
  } finally {
    await client.end().catch(() => {});
  }
  const r = await psql(t.pgPort, 'agents-db', grant.access_token, ['-tAc', 'select 1']);
  assert.notEqual(r.code, 0);
  assert.ok((await deniedEvents()).some((e) => e.code === 'revoked' && e.frontDoor === 'postgres'));
});

test('revoking the API key a gateway token came from reaches sessions opened with the derived token', async () => {
  const key = await t.gw.services.createToken({ name: 'ci-bot', groups: ['ai-agents'], ttlMs: null }, 'test');
  const grant = (await (await api('/api/v1/auth/token', key.token, { method: 'POST' })).json()) as { access_token: string };
  const client = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'agents-db', database: 'agents-db', password: grant.access_token });
  await client.connect();
  try {
    await client.query('select 1');
    assert.equal((await api(`/api/v1/tokens/${key.id}`, t.adminToken, { method: 'DELETE' })).status, 200);
    await assert.rejects(client.query('select 2'), /revoked/);
  } finally {
    await client.end().catch(() => {});
  }
  assert.equal((await api('/api/v1/whoami', grant.access_token)).status, 401);
});

test('the gateway\'s browser login: auth code + PKCE, then an HttpOnly SameSite=Lax cookie holding a gateway token', async () => {
  const start = await api('/auth/login?returnTo=/ui/sessions');
  assert.equal(start.status, 302);
  const loginCookie = start.headers.get('set-cookie')!.split(';')[0]!;
  const back = await completeBrowserLogin(start.headers.get('location')!, 'bob');
  assert.equal(back.pathname, '/auth/callback');
  // A callback without this browser's state cookie is refused (login CSRF).
  assert.equal((await api(back.pathname + back.search)).status, 400);
  // ... the replay above consumed nothing: the state is only used once it matches.
  const cb = await api(back.pathname + back.search, undefined, { headers: { cookie: loginCookie } });
  assert.equal(cb.status, 302, await cb.clone().text());
  assert.equal(cb.headers.get('location'), '/ui/sessions');
  const session = cb.headers.getSetCookie().find((c) => c.startsWith('warden_session='))!;
  assert.match(session, /HttpOnly/);
  assert.match(session, /SameSite=Lax/);
  const cookie = session.split(';')[0]!;
  const me = (await (await api('/api/v1/whoami', undefined, { headers: { cookie } })).json()) as { name: string };
  assert.equal(me.name, `${idp.issuer}#bob`);
  const out = await api('/auth/logout', undefined, { method: 'POST', headers: { cookie } });
  assert.equal(out.status, 302);
  assert.equal((await api('/api/v1/whoami', undefined, { headers: { cookie } })).status, 401);
});

test('/api/v1/auth/config gives the CLI the public login parameters and never a secret', async () => {
  const c = (await (await api('/api/v1/auth/config')).json()) as Record<string, unknown>;
  assert.deepEqual([c.mode, c.issuer, c.clientId, c.audience], ['oidc', idp.issuer, idp.cliClientId, idp.audience]);
  assert.ok(!('clientSecret' in c));
});

test('no target credential appears in any API response or log line', async () => {
  const admin = t.adminToken;
  for (const p of ['/api/v1/connections', '/api/v1/sessions', '/api/v1/openapi.json', '/api/v1/whoami', '/api/v1/users']) await api(p, admin);
  const sessions = (await (await api('/api/v1/sessions', admin)).json()) as { id: string }[];
  for (const s of sessions.slice(0, 5)) await api(`/api/v1/sessions/${s.id}`, admin);
  assert.ok(responses.length > 20 && logLines.length > 0, `${responses.length} responses, ${logLines.length} log lines`);
  for (const text of [...responses, ...logLines]) assert.ok(!text.includes(TARGET_PASSWORD), `target credential leaked: ${text.slice(0, 300)}`);
  await t.gw.services.audit.flush();
  const events = await t.gw.services.store.db.selectFrom('events').select('data').execute();
  for (const e of events) assert.ok(!e.data.includes(TARGET_PASSWORD));
});

test('CLI: warden login --device against the gateway\'s IdP, then whoami with the stored (refreshable) login', async () => {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { approveDeviceCode } = await import('../helpers/oidc-provider.ts');
  const { run } = await import('../helpers/clients.ts');
  const bin = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
  const home = mkdtempSync(join(tmpdir(), 'warden-home-'));
  const env = { ...process.env, XDG_CONFIG_HOME: home, WARDEN_TOKEN: '', WARDEN_GATEWAY: '' };
  try {
    const child = spawn(process.execPath, [bin, 'login', '--device', '--gateway', t.httpUrl], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    const code = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        stderr += d;
        const m = /enter the code (\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`login exited early: ${stderr}`)));
    });
    await approveDeviceCode(idp.issuer, code, 'bob');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /logged in as \S+#bob/);
    const who = await run(process.execPath, [bin, 'whoami', '--json', '--gateway', t.httpUrl], { env });
    assert.equal(who.code, 0, who.stderr);
    assert.equal((JSON.parse(who.stdout) as { name: string }).name, `${idp.issuer}#bob`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
