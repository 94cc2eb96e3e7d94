// The path form of the proxy (/proxy/<connection>/...) answers from the gateway's own origin,
// where the console's session cookie lives. A hostile target must not get that cookie, set or
// overwrite it, scope its own cookies to other connections, or run script on that origin.
// Ground truth: the headers the target received, and those the gateway sent back. The host
// form (gateway.proxyDomain) is its own origin and passes the target's headers as they are.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

let t: TestGateway;
let target: Server;
let token: string;
let port: number;
const seen: IncomingHttpHeaders[] = [];

before(async () => {
  // a hostile target: a page with a script, cookies scoped to the whole origin, and the gateway's cookie name
  target = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, {
      'content-type': 'text/html',
      'content-security-policy': "default-src 'self'",
      'set-cookie': [
        'warden_session=attacker-token; Path=/; HttpOnly',
        'WARDEN_LOGIN=x; Path=/auth',
        'theirs=1; Path=/; Domain=127.0.0.1; Secure',
        'plain=2',
        'relative=3; Path=api',
      ],
    });
    res.end('<script>fetch("/api/v1/tokens",{method:"POST",headers:{"x-warden-console":"1"}})</script>');
  });
  await new Promise<void>((ok) => target.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  t = await startTestGateway({
    gateway: { proxyDomain: 'proxy.test' },
    connections: [{ name: 'site', type: 'http', url, access: { groups: ['web'] } }],
  });
  token = await t.token(['web']);
  port = Number(new URL(t.httpUrl).port);
});
after(async () => {
  await t?.close();
  await new Promise<void>((ok) => target?.close(() => ok()));
});

function get(host: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    r.on('error', reject);
    r.end();
  });
}

test('the path form sandboxes the answer and scopes its cookies to the connection; the gateway\'s cookie names are dropped', async () => {
  const r = await get(`127.0.0.1:${port}`, '/proxy/site/page', { 'x-api-key': token });
  assert.equal(r.status, 200);
  // the target's own policy is kept, and the sandbox is added beside it (both apply)
  assert.deepEqual(String(r.headers['content-security-policy']).split(/,\s*/), ["default-src 'self'", 'sandbox']);
  assert.deepEqual(r.headers['set-cookie'], [
    'theirs=1; Path=/proxy/site/; Secure',
    'plain=2; Path=/proxy/site/',
    'relative=3; Path=/proxy/site/',
  ]);
});

test('the gateway\'s session cookie never reaches the target; the target\'s own cookies do', async () => {
  seen.length = 0;
  const r = await get(`127.0.0.1:${port}`, '/proxy/site/page', { 'x-api-key': token, cookie: 'theirs=1; warden_session=console-token; Warden_Login=state; plain=2' });
  assert.equal(r.status, 200);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.cookie, 'theirs=1; plain=2');
  seen.length = 0;
  await get(`127.0.0.1:${port}`, '/proxy/site/page', { 'x-api-key': token, cookie: 'warden_session=console-token' });
  assert.equal(seen[0]!.cookie, undefined);
});

test('the host form is an origin of its own: the target\'s headers pass as they are', async () => {
  const r = await get(`site.proxy.test:${port}`, '/page', { 'x-api-key': token });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-security-policy'], "default-src 'self'");
  assert.equal(r.headers['set-cookie']?.length, 5);
});
