// The WebSocket door's ways to the target: an https target (wss) checked against the
// connection's CA, a target reached through a remote agent (the agent as its own process,
// dialing out to the gateway), and a minted credential (OAuth2 from a local token endpoint).
// Ground truth is what the target got.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startWsTarget, type WsTarget } from '../helpers/ws-target.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { agentStatus, spawnAgent, type AgentProcess } from './agent-harness.ts';
import { startLocalHttp, type LocalHttp } from '../helpers/local-http.ts';

const KEY = 'upstream-key-for-paths';
let t: TestGateway;
let secure: WsTarget;
let plain: WsTarget;
let agent: AgentProcess | null = null;
let idp: LocalHttp;

before(async () => {
  const cert = await makeCertificate({ altNames: ['localhost'] });
  const other = await makeCertificate({ commonName: 'other', altNames: ['other.test'] });
  secure = await startWsTarget({ tls: cert });
  plain = await startWsTarget();
  idp = await startLocalHttp((r) => (r.headers.authorization === `Basic ${Buffer.from('warden-gw:idp-secret').toString('base64')}` ? { json: { access_token: 'minted-at-idp-1', token_type: 'Bearer', expires_in: 3600 } } : { status: 401, json: { error: 'invalid_client' } }));
  const conn = (name: string, url: string, extra: Record<string, unknown> = {}) => ({ name, type: 'http', url, credential: { header: 'x-api-key', value: KEY }, access: { groups: ['ai'] }, ...extra });
  t = await startTestGateway({
    connections: [
      conn('wss', secure.url, { tls: { ca: cert.ca } }),
      // a CA that did not sign the target's certificate
      conn('wss-wrong-ca', secure.url, { tls: { ca: other.ca } }),
      conn('remote', plain.url, { agent: 'site-ws' }),
      { name: 'minted', type: 'http', url: plain.url, credential: { oauth2: { tokenUrl: `${idp.url}/token`, clientId: 'warden-gw', clientSecret: 'idp-secret' } }, access: { groups: ['ai'] } },
      { name: 'minted-bad', type: 'http', url: plain.url, credential: { oauth2: { tokenUrl: `${idp.url}/token`, clientId: 'warden-gw', clientSecret: 'wrong' } }, access: { groups: ['ai'] } },
    ],
  });
  const token = (await t.gw.services.createToken({ name: 'site-ws', groups: ['warden-agent'], ttlMs: null }, 'test')).token;
  agent = spawnAgent(t.httpUrl, token);
  await agent.waitFor(/agent connected to the gateway/);
});
after(async () => {
  await agent?.kill();
  await t?.close();
  await secure?.close();
  await plain?.close();
  await idp?.close();
});

async function echo(connection: string, token: string): Promise<string> {
  const ws = new WebSocket(`${t.httpUrl.replace(/^http/, 'ws')}/proxy/${connection}/feed`, { headers: { 'x-api-key': token } });
  await once(ws, 'open');
  ws.send('ping?');
  const [m] = (await once(ws, 'message')) as [Buffer];
  ws.close(1000);
  await once(ws, 'close');
  return m.toString();
}

test('an https target is reached over wss, its certificate checked against the connection\'s CA', async () => {
  const token = await t.token(['ai'], 'wss-user');
  assert.equal(await echo('wss', token), 'echo: ping?');
  assert.equal(secure.upgrades.at(-1)!.headers['x-api-key'], KEY);
});

test('a target whose certificate the connection\'s CA did not sign is refused before the client\'s upgrade', async () => {
  const token = await t.token(['ai'], 'wss-wrong');
  const before = secure.upgrades.length;
  const ws = new WebSocket(`${t.httpUrl.replace(/^http/, 'ws')}/proxy/wss-wrong-ca/feed`, { headers: { 'x-api-key': token } });
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(res.statusCode, 502);
  assert.equal(secure.upgrades.length, before, 'no handshake reached the target');
});

test('a target behind a remote agent is reached through the agent\'s tunnel: one stream while the socket is open', async () => {
  const token = await t.token(['ai'], 'agent-user');
  const before = plain.upgrades.length;
  const ws = new WebSocket(`${t.httpUrl.replace(/^http/, 'ws')}/proxy/remote/feed`, { headers: { 'x-api-key': token } });
  await once(ws, 'open');
  assert.equal((await agentStatus(t.httpUrl, t.adminToken, 'site-ws'))?.streams, 1, 'the target\'s socket is a stream of the agent');
  ws.send('ping?');
  const [m] = (await once(ws, 'message')) as [Buffer];
  assert.equal(m.toString(), 'echo: ping?');
  ws.close(1000);
  await once(ws, 'close');
  assert.equal(plain.upgrades.length, before + 1);
  assert.equal(plain.upgrades.at(-1)!.headers['x-api-key'], KEY);
});

test('a minted credential (OAuth2) is put on the target\'s upgrade; one that cannot be had is a 502 before any upgrade', async () => {
  const token = await t.token(['ai'], 'minted-user');
  const before = plain.upgrades.length;
  assert.equal(await echo('minted', token), 'echo: ping?');
  assert.equal(plain.upgrades.at(-1)!.headers.authorization, 'Bearer minted-at-idp-1');
  assert.doesNotMatch(JSON.stringify(plain.upgrades.at(-1)!.headers), new RegExp(token));
  const ws = new WebSocket(`${t.httpUrl.replace(/^http/, 'ws')}/proxy/minted-bad/feed`, { headers: { 'x-api-key': token } });
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(res.statusCode, 502);
  assert.equal(plain.upgrades.length, before + 1, 'the refused one never reached the target');
});
