// Local mode (no IdP): local users with scrypt-hashed passwords, `POST /api/v1/auth/login`
// for a gateway token that works as the Postgres password, and the CLI:
// `warden users add`, `warden login --local`, `whoami`, `logout`, stored login used by
// other commands when WARDEN_TOKEN is unset.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import pg from 'pg';
import { psql, run } from '../helpers/clients.ts';

const BIN = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
let t: TestGateway;
const home = mkdtempSync(join(tmpdir(), 'warden-home-'));
// Never the real user's config dir, never an inherited token.
const env = { XDG_CONFIG_HOME: home, WARDEN_TOKEN: '', WARDEN_GATEWAY: '' };
const warden = (args: string[], extra: Record<string, string> = {}, input?: string) =>
  run(process.execPath, [BIN, ...args], { env: { ...env, ...extra }, input, timeoutMs: 60_000 });

before(async () => {
  t = await startTestGateway({ connections: [localPostgres('local-db', { access: { groups: ['dev'] } })] });
});
after(async () => {
  await t.close();
  rmSync(home, { recursive: true, force: true });
});

test('a local user logs in with a password; the gateway token is the Postgres password; the hash is scrypt', async () => {
  await t.gw.services.addUser('erin', 'erin-long-password', ['dev'], 'test');
  const row = await t.gw.services.store.db.selectFrom('local_users').selectAll().where('name', '=', 'erin').executeTakeFirstOrThrow();
  assert.match(row.password_hash, /^scrypt\$32768\$8\$1\$/);
  assert.ok(!row.password_hash.includes('erin-long-password'));
  const res = await fetch(t.httpUrl + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'erin', password: 'erin-long-password' }) });
  assert.equal(res.status, 200);
  const { access_token } = (await res.json()) as { access_token: string };
  const r = await psql(t.pgPort, 'local-db', access_token, ['-tAc', 'select 7']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '7');
  const bad = await fetch(t.httpUrl + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'erin', password: 'nope' }) });
  assert.equal(bad.status, 401);
  // Disabling the user revokes the tokens it logged in with.
  assert.equal(await t.gw.services.disableUser('erin', 'test'), true);
  assert.notEqual((await psql(t.pgPort, 'local-db', access_token, ['-tAc', 'select 1'])).code, 0);
});

test('CLI: users add (admin, --password-stdin), login --local, whoami, the stored login for other commands, logout', async () => {
  const gw = ['--gateway', t.httpUrl];
  const add = await warden(['users', 'add', 'frank', '--groups', 'dev,auditor', '--password-stdin', ...gw], { WARDEN_TOKEN: t.adminToken }, 'frank-long-password\n');
  assert.equal(add.code, 0, add.stderr);
  const list = await warden(['users', 'list', '--json', ...gw], { WARDEN_TOKEN: t.adminToken });
  assert.ok((JSON.parse(list.stdout) as { name: string }[]).some((u) => u.name === 'frank'));

  const login = await warden(['login', '--local', '--username', 'frank', '--password-stdin', ...gw], {}, 'frank-long-password\n');
  assert.equal(login.code, 0, login.stderr);
  const file = join(home, 'warden', 'credentials.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);

  const who = await warden(['whoami', '--json', ...gw]);
  assert.equal(who.code, 0, who.stderr);
  const me = JSON.parse(who.stdout) as { name: string; roles: string[] };
  assert.deepEqual([me.name, me.roles], ['frank', ['auditor', 'user']]);
  // An auditor may list sessions, with no WARDEN_TOKEN: the stored login is used.
  const sessions = await warden(['sessions', 'list', '--json', ...gw]);
  assert.equal(sessions.code, 0, sessions.stderr);

  const out = await warden(['logout']);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /logged out/);
  assert.notEqual((await warden(['whoami', ...gw])).code, 0);
});

test('CLI: users disable ends the user\'s open session and logins; a second disable and non-admins are refused', async () => {
  await t.gw.services.addUser('gina', 'gina-long-password', ['dev'], 'test');
  const login = await fetch(t.httpUrl + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'gina', password: 'gina-long-password' }) });
  const { access_token } = (await login.json()) as { access_token: string };
  const client = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'local-db', password: access_token, database: 'x' });
  await client.connect();
  client.on('error', () => {});
  assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);

  const gw = ['--gateway', t.httpUrl];
  const plain = await t.token(['dev'], 'not-admin');
  assert.notEqual((await warden(['users', 'disable', 'gina', ...gw], { WARDEN_TOKEN: plain })).code, 0);
  const off = await warden(['users', 'disable', 'gina', ...gw], { WARDEN_TOKEN: t.adminToken });
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stderr, /user gina disabled/);
  await assert.rejects(client.query('SELECT 2'), /revoked/);
  await client.end().catch(() => {});
  const again = await fetch(t.httpUrl + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'gina', password: 'gina-long-password' }) });
  assert.equal(again.status, 401);
  const twice = await warden(['users', 'disable', 'gina', ...gw], { WARDEN_TOKEN: t.adminToken });
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, /404.*no enabled local user named "gina"/);
  const list = JSON.parse((await warden(['users', 'list', '--json', ...gw], { WARDEN_TOKEN: t.adminToken })).stdout) as { name: string; disabledAt: number | null }[];
  assert.notEqual(list.find((u) => u.name === 'gina')!.disabledAt, null);
});

test('without an admin role, users cannot be added', async () => {
  const user = await t.token(['dev'], 'plain');
  const r = await fetch(t.httpUrl + '/api/v1/users', { method: 'POST', headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', password: 'x-long-password-1' }) });
  assert.equal(r.status, 403);
});
