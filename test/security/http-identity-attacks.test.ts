// Identity over HTTP, attacked by a caller with an ordinary token or none: a flood of bad
// tokens through /api/v1/exec from one address must limit that address and not loopback
// (two callers from two addresses); a burst of password guesses is counted before scrypt
// runs and capped in flight; the login's returnTo cannot leave the gateway; the bootstrap
// admin token is minted once per store ever; /metrics can need a token; logout is POST.
// The IdP half (token exchange, OIDC namespace, /mcp audience) is in http-identity-oidc.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { sameOriginPath } from '../../src/gateway/return-to.ts';

const METRICS_TOKEN = 'metrics-scrape-secret-0123456789';
let t: TestGateway;
let token: string;

before(async () => {
  t = await startTestGateway({
    connections: [localPostgres('exec-db')],
    gateway: { metricsToken: METRICS_TOKEN },
    auth: { rateLimit: { perSource: 5, perAccount: 1000, window: '10m', maxLoginsInFlight: 2 } },
  });
  token = await t.token(['dev'], 'local-caller');
  await t.gw.services.addUser('carol', 'carol-password-long', ['dev'], 'test');
});
after(() => t?.close());

/** An HTTP request from a chosen loopback address (127.0.0.0/8 is all ours). */
function httpFrom(localAddress: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const url = new URL(t.httpUrl + path);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, localAddress, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const exec = (from: string, bearer: string) => httpFrom(from, 'POST', '/api/v1/exec', { authorization: `Bearer ${bearer}` }, { connection: 'exec-db', command: 'SELECT 1 AS one' });
const login = (from: string, username: string, password: string) => httpFrom(from, 'POST', '/api/v1/auth/login', {}, { username, password });

test('a flood of bad tokens at /api/v1/exec limits the sender\'s address, not loopback: another local caller still runs', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await exec('127.0.0.2', `wdn_guess_${i}`)).status);
  // The gateway reaches its Postgres door from 127.0.0.1 for every exec: that address is not limited.
  const ok = await exec('127.0.0.1', token);
  assert.equal(ok.status, 200, `the local caller is locked out: ${ok.body}`);
  assert.deepEqual((JSON.parse(ok.body) as { rows: unknown[] }).rows, [['1']]);
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  assert.ok(statuses.slice(5).every((s) => s === 429), `the sender is limited at its own address: ${statuses.join(',')}`);
  // And the sender stays limited even with a valid token.
  assert.equal((await exec('127.0.0.2', token)).status, 429);
});

test('a burst of password guesses from one address is counted before scrypt runs: at most perSource are checked', async () => {
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login('127.0.0.3', `guess-user-${i}`, 'not-the-password')));
  const checked = answers.filter((a) => a.status === 401).length;
  assert.ok(checked <= 5, `${checked} guesses reached a password check (perSource is 5)`);
  assert.ok(answers.every((a) => a.status === 401 || a.status === 429), answers.map((a) => a.status).join(','));
});

test('password checks in flight are capped: a burst from many addresses gets 429 beyond the cap, not a CPU pileup', async () => {
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => login(`127.0.1.${i + 1}`, 'carol', `wrong-password-${i}`)));
  const busy = answers.filter((a) => a.status === 429);
  assert.ok(busy.length > 0, `all ${answers.length} ran a password check at once: ${answers.map((a) => a.status).join(',')}`);
  assert.ok(busy.every((a) => /too many logins in progress/.test(a.body)), busy.map((a) => a.body).join('\n'));
  assert.ok(answers.every((a) => a.status === 401 || a.status === 429));
  // The right password still works once the burst is over.
  assert.equal((await login('127.0.1.200', 'carol', 'carol-password-long')).status, 200);
});

test('returnTo: every way out of the gateway is refused; paths on it are kept, normalised', () => {
  const away = [
    '/\t/evil.com', '//evil.com', '/\\evil.com', '\\\\evil.com', '\\/evil.com', 'https:evil.com', 'https://evil.com', 'http:/evil.com',
    '///evil.com', '/.//evil.com', ' //evil.com', '/\n/evil.com', 'javascript:alert(1)', 'data:text/html,x', '//@evil.com', '/\\/evil.com', 'x'.repeat(3000),
  ];
  for (const v of away) assert.equal(sameOriginPath(v), null, JSON.stringify(v));
  assert.equal(sameOriginPath('/ui/sessions'), '/ui/sessions');
  assert.equal(sameOriginPath('/x?y=1#z'), '/x?y=1#z');
  assert.equal(sameOriginPath('/a b'), '/a%20b');
  assert.equal(sameOriginPath('/%2F%2Fevil.com'), '/%2F%2Fevil.com', 'an encoded slash stays a path segment');
});

test('the bootstrap admin token is minted once per store: not again after every key is revoked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bootstrap-'));
  const config = parseConfig({
    gateway: { dataDir: join(dir, 'data'), listen: { http: '127.0.0.1:0', postgres: null }, logLevel: 'silent' },
    connections: [localPostgres('x')],
  });
  const log = pino({ level: 'silent' });
  try {
    const first = await startGateway(config, { log });
    assert.ok(first.bootstrapToken, 'the first start prints an admin token');
    for (const k of await first.services.listTokens()) await first.services.revokeToken(k.id, 'test');
    assert.equal((await first.services.listTokens()).length, 0);
    await first.close();
    const second = await startGateway(config, { log });
    try {
      assert.equal(second.bootstrapToken, null, 'a store whose keys were all revoked got a new admin token');
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('/metrics needs gateway.metricsToken when it is set', async () => {
  assert.equal((await fetch(`${t.httpUrl}/metrics`)).status, 401);
  assert.equal((await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } })).status, 401);
  assert.equal((await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}x` } })).status, 401);
  const ok = await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /warden_auth_failures_total/);
});

test('logout is POST only: a GET (an <img> on any page) gets 405 and logs nobody out', async () => {
  const res = await fetch(`${t.httpUrl}/auth/logout`, { redirect: 'manual' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'POST');
  assert.equal(res.headers.get('set-cookie'), null);
  assert.equal((await fetch(`${t.httpUrl}/auth/logout`, { method: 'POST', redirect: 'manual' })).status, 302);
});
