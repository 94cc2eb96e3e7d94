// A request that gets no answer from its target is still recorded with what happened: the
// target could not be reached, a credential could not be minted, or the client went away
// before the target answered (the request is then aborted at the target, and that is no
// gateway failure). Before, such a command stayed in the record with no result at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { freePort } from '../helpers/free-port.ts';
import { eventsOf } from '../helpers/records.ts';

let t: TestGateway;
let silent: Server;
const held: { aborted: boolean }[] = [];

before(async () => {
  // a target that takes requests and never answers
  silent = createServer((req, res) => {
    const r = { aborted: false };
    held.push(r);
    res.on('close', () => (r.aborted = !res.writableFinished));
    req.resume();
  });
  await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
  const closedPort = await freePort();
  t = await startTestGateway({
    connections: [
      { name: 'silent', type: 'http', url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, access: { groups: ['ai'] } },
      { name: 'nowhere', type: 'http', url: `http://127.0.0.1:${closedPort}`, access: { groups: ['ai'] } },
      { name: 'no-idp', type: 'http', url: `http://127.0.0.1:${closedPort}`, credential: { oauth2: { tokenUrl: `http://127.0.0.1:${closedPort}/token`, clientId: 'c', clientSecret: 'never-shown-secret' } }, access: { groups: ['ai'] } },
    ],
  });
});
after(async () => {
  await t?.close();
  silent?.closeAllConnections();
  await new Promise((ok) => silent?.close(ok));
});

async function resultOf(identity: string) {
  for (let i = 0; i < 100; i++) {
    const events = await eventsOf(t, identity);
    const result = events.find((e) => e.type === 'result');
    if (result && events.some((e) => e.type === 'session.end')) return { result, end: events.find((e) => e.type === 'session.end')! };
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`no result recorded for ${identity}`);
}

test('a target that cannot be reached: 502 to the caller, and the record says the request failed', async () => {
  const token = await t.token(['ai'], 'nowhere-agent');
  const res = await fetch(`${t.httpUrl}/proxy/nowhere/v1/x`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
  assert.equal(res.status, 502);
  assert.match(await res.text(), /cannot reach connection \\?"nowhere\\?"/);
  const { result } = await resultOf('nowhere-agent');
  assert.equal(result.data.tag, '502');
  assert.equal((result.data.error as { code: string }).code, 'upstream_failed');
});

test('a credential that cannot be minted: the record names the failure, never the secret', async () => {
  const token = await t.token(['ai'], 'no-idp-agent');
  const res = await fetch(`${t.httpUrl}/proxy/no-idp/v1/x`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 502);
  const { result } = await resultOf('no-idp-agent');
  const error = result.data.error as { code: string; message: string };
  assert.equal(error.code, 'upstream_failed');
  assert.match(error.message, /connection "no-idp"/);
  assert.doesNotMatch(JSON.stringify(await eventsOf(t, 'no-idp-agent')), /never-shown-secret/);
});

test('a client that goes away before the target answers: aborted at the target, recorded as the client leaving', async () => {
  const token = await t.token(['ai'], 'impatient-agent');
  const before = held.length;
  const req = httpRequest(`${t.httpUrl}/proxy/silent/v1/slow`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  req.on('error', () => {});
  req.end('{"q":1}');
  while (held.length === before) await new Promise((r) => setTimeout(r, 20));
  req.destroy();
  const { result, end } = await resultOf('impatient-agent');
  assert.equal(result.data.tag, 'aborted');
  assert.equal((result.data.error as { code: string }).code, 'client_gone');
  assert.match(String(end.data.reason ?? JSON.stringify(end.data)), /client went away/);
  for (let i = 0; i < 50 && !held.at(-1)!.aborted; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(held.at(-1)!.aborted, true, 'the target saw the request go');
});
