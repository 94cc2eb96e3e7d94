// The proxy's host-based form: with gateway.proxyDomain set, `<connection>.<domain>` is that
// connection with the request's whole path. Driven by curl (its --resolve pins the name to the
// gateway, no DNS), the Anthropic SDK with its base URL on the connection's host, and a ws
// client; the attacks use the same hosts to reach the gateway's own routes. Ground truth is
// what the target got and what the gateway answered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { startWsTarget, type WsTarget } from '../helpers/ws-target.ts';
import { commandsOf } from '../helpers/records.ts';

const KEY = 'sk-ant-upstream-host-0123456789';
const DOMAIN = 'proxy.test';
let t: TestGateway;
let llm: FakeLlm;
let wsTarget: WsTarget;
let port: number;

before(async () => {
  llm = await startFakeLlm({ apiKey: KEY, text: ['Write to ', 'grace.hopper@example.org', ' for access.'] });
  wsTarget = await startWsTarget();
  t = await startTestGateway({
    gateway: { proxyDomain: 'Proxy.Test' },
    connections: [
      { name: 'claude', type: 'http', url: llm.url, credential: { header: 'x-api-key', value: KEY }, access: { groups: ['ai'] } },
      { name: 'live', type: 'http', url: wsTarget.url, credential: { header: 'authorization', scheme: 'Bearer', value: KEY }, access: { groups: ['ai'] } },
    ],
  });
  port = Number(new URL(t.httpUrl).port);
});
after(async () => {
  await t?.close();
  await llm?.close();
  await wsTarget?.close();
});

/** curl to http://<host>:<port><path>, the name resolved to the gateway; status and body. */
function curl(host: string, path: string, args: string[] = []): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--resolve', `${host}:${port}:127.0.0.1`, '-w', '\n%{http_code}', ...args, `http://${host}:${port}${path}`], (err, stdout, stderr) => {
      if (err) return reject(new Error(stderr || err.message));
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
  });
}

/** A plain request to the gateway's address with a Host header of our choosing (and any request target). */
function raw(host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    r.on('error', reject);
    r.end();
  });
}

/** fetch for an SDK whose base URL names a host under the proxy domain: every name resolves to the gateway (no DNS here). */
const loopbackFetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const req = new Request(input, init);
  const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
  return new Promise<Response>((resolve, reject) => {
    const r = httpRequest(req.url, {
      method: req.method, headers: Object.fromEntries(req.headers), signal: init?.signal ?? undefined,
      lookup: (_h, o, cb) => ((o as { all?: boolean }).all ? (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)),
    }, (res) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      resolve(new Response(Readable.toWeb(res) as ReadableStream, { status: res.statusCode, headers }));
    });
    r.on('error', reject);
    r.end(body);
  });
}) as typeof fetch;

test('curl to <connection>.<domain> reaches the connection with its whole path, the token swapped for the key', async () => {
  const token = await t.token(['ai'], 'host-curl');
  const before = llm.seen.length;
  const r = await curl(`claude.${DOMAIN}`, '/v1/messages?beta=true', ['-H', `x-api-key: ${token}`, '-H', 'content-type: application/json', '--data', JSON.stringify({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })]);
  assert.equal(r.status, 200, r.body);
  assert.match(JSON.parse(r.body).content[0].text, /^Write to .+ for access\.$/);
  assert.doesNotMatch(r.body, /grace\.hopper/);
  const got = llm.seen.slice(before);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.url, '/v1/messages?beta=true');
  assert.equal(got[0]!.headers['x-api-key'], KEY);
  assert.doesNotMatch(JSON.stringify(got[0]!.headers), new RegExp(token));
  const cmds = await commandsOf(t, 'host-curl');
  assert.deepEqual(cmds.map((c) => [c.data.text, c.data.decision]), [['POST /v1/messages?beta=true', 'allow']]);
});

test('the Anthropic SDK works with its base URL on the connection\'s host (any case, with a port)', async () => {
  const token = await t.token(['ai'], 'host-sdk');
  const client = new Anthropic({ apiKey: token, baseURL: `http://CLAUDE.Proxy.Test:${port}`, maxRetries: 0, fetch: loopbackFetch });
  const stream = client.messages.stream({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  const final = await stream.finalMessage();
  const text = final.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  assert.match(text, /^Write to .+ for access\.$/);
  assert.doesNotMatch(text, /grace\.hopper@example\.org/);
});

test('a connection host never reaches the gateway\'s own routes: the API, health, /mcp and the agent tunnel paths go to the target', async () => {
  // an admin token that may also use the connection: on the gateway's name it lists sessions
  const admin = await t.token(['ai', 'admin'], 'host-admin');
  assert.equal((await raw(`${DOMAIN}:${port}`, '/api/v1/sessions', { authorization: `Bearer ${admin}` })).status, 200);
  const before = llm.seen.length;
  for (const path of ['/api/v1/sessions', '/healthz', '/mcp', '/api/v1/agents/connect', '/']) {
    const r = await raw(`claude.${DOMAIN}:${port}`, path, { authorization: `Bearer ${admin}` });
    // the target's answer (it knows only /v1/messages), never the gateway's
    assert.equal(r.status, 404, `${path}: ${r.body}`);
    assert.equal(JSON.parse(r.body).error.type, 'not_found_error', path);
  }
  assert.deepEqual(llm.seen.slice(before).map((s) => s.url), ['/api/v1/sessions', '/healthz', '/mcp', '/api/v1/agents/connect', '/']);
  // and without a token, the proxy's 401, not the API's
  const anon = await raw(`claude.${DOMAIN}`, '/api/v1/sessions');
  assert.equal(anon.status, 401);
  assert.match(JSON.parse(anon.body).error.message, /Warden access token/);
});

test('a host under the domain that is not one label is refused; the gateway\'s own name and its address route as before', async () => {
  const before = llm.seen.length;
  for (const host of [`a.claude.${DOMAIN}`, `.${DOMAIN}`, `claude_x.${DOMAIN}`, `-claude.${DOMAIN}`, `claude.${DOMAIN}:x`, `user@claude.${DOMAIN}`]) {
    const r = await raw(host, '/healthz', { authorization: `Bearer ${t.adminToken}` });
    assert.equal(r.status, 400, host);
    assert.match(JSON.parse(r.body).error.message, /must be <connection>\.proxy\.test/, host);
  }
  // an absolute-form target on a connection host names another authority: refused
  const abs = await raw(`claude.${DOMAIN}`, `http://127.0.0.1:${port}/healthz`);
  assert.equal(abs.status, 400);
  assert.equal(llm.seen.length, before, 'nothing reached the target');
  assert.equal((await raw(`${DOMAIN}:${port}`, '/healthz')).status, 200, 'the domain itself is the gateway');
  assert.equal((await raw(`127.0.0.1:${port}`, '/healthz')).status, 200);
  assert.equal((await raw(`claude.${DOMAIN}.elsewhere`, '/healthz')).status, 200, 'another domain is not the proxy\'s');
});

test('an unknown connection on its host is 404 after the token', async () => {
  const token = await t.token(['ai'], 'host-lost');
  const r = await raw(`nope.${DOMAIN}`, '/v1/messages', { 'x-api-key': token });
  assert.equal(r.status, 404);
});

test('a WebSocket on a connection host is the connection\'s; a refused host gets no upgrade', async () => {
  const token = await t.token(['ai'], 'host-ws');
  const before = wsTarget.upgrades.length;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/agents/connect`, { headers: { host: `live.${DOMAIN}:${port}`, authorization: `Bearer ${token}` } });
  await once(ws, 'open');
  ws.send('hello');
  const [msg] = (await once(ws, 'message')) as [Buffer];
  assert.equal(msg.toString(), 'echo: hello');
  const up = wsTarget.upgrades.slice(before);
  assert.deepEqual(up.map((u) => u.url), ['/api/v1/agents/connect']);
  assert.equal(up[0]!.headers.authorization, `Bearer ${KEY}`);
  ws.close(1000);
  await once(ws, 'close');

  const bad = new WebSocket(`ws://127.0.0.1:${port}/x`, { headers: { host: `a.live.${DOMAIN}`, authorization: `Bearer ${token}` } });
  const [, res] = (await once(bad, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(res.statusCode, 400);
  assert.equal(wsTarget.upgrades.length, before + 1);
});
