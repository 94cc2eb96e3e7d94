// WebSocket upgrades through /proxy/<connection>/: a real `ws` client against a real `ws`
// target behind the gateway. Ground truth is what the target got (its handshake headers,
// messages, close codes) and what the gateway recorded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startWsTarget, type WsTarget } from '../helpers/ws-target.ts';
import { commandsOf, eventsOf } from '../helpers/records.ts';

const UPSTREAM = 'upstream-secret-0123456789';
let t: TestGateway;
let target: WsTarget;

before(async () => {
  target = await startWsTarget();
  t = await startTestGateway({
    connections: [
      { name: 'live', type: 'http', url: target.url, credential: { header: 'authorization', scheme: 'Bearer', value: UPSTREAM }, access: { groups: ['ai'] } },
    ],
    rules: [
      { name: 'no-admin-socket', match: { types: ['http'], paths: ['/admin*'] }, action: 'block', message: 'no admin sockets' },
      { name: 'held-socket', match: { types: ['http'], paths: ['/held'] }, action: 'review', review: { groups: ['admin'] } },
      { name: 'no-beta-header', match: { types: ['http'], headers: { 'x-socket-beta': ['*'] } }, action: 'block', message: 'no beta sockets' },
      { name: 'read-only-feed', match: { types: ['http'], paths: ['/ro/*'], categories: ['write'] }, action: 'block', message: 'read only' },
    ],
  });
});
after(async () => {
  await t?.close();
  await target?.close();
});

/** The record of an identity's sessions once its session has ended (the gateway sees a close after the client does). */
async function endedRecord(identity: string) {
  for (;;) {
    const events = await eventsOf(t, identity);
    if (events.some((e) => e.type === 'session.end')) return events;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const wsUrl = (path: string) => `${t.httpUrl.replace(/^http/, 'ws')}/proxy/live${path}`;

/** Opens a socket and collects what it gets; resolves once open (or with the HTTP status that refused it). */
async function open(path: string, headers: Record<string, string>, protocols: string[] = []) {
  const ws = new WebSocket(wsUrl(path), protocols, { headers });
  const got: { data: Buffer; binary: boolean }[] = [];
  ws.on('message', (data: Buffer, binary) => got.push({ data, binary }));
  const refused = { body: '' };
  const closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => {
        refused.body = body;
        resolve(res.statusCode ?? 0);
      });
    });
    ws.once('error', reject);
  });
  const next = async (n: number) => {
    while (got.length < n) await once(ws, 'message');
    return got[n - 1]!;
  };
  return { ws, status, got, next, closed, refused };
}

test('an upgrade is admitted with the Warden token; the target gets the connection\'s credential, never the token, and chooses the subprotocol', async () => {
  const token = await t.token(['ai'], 'ws-agent');
  const before = target.upgrades.length;
  const c = await open('/socket?room=1', { authorization: `Bearer ${token}` }, ['chat.v1', 'chat.v2']);
  assert.equal(c.status, 101);
  assert.equal(c.ws.protocol, 'chat.v2', 'the protocol the target chose');
  const up = target.upgrades.slice(before);
  assert.equal(up.length, 1);
  assert.equal(up[0]!.url, '/socket?room=1');
  assert.equal(up[0]!.headers.authorization, `Bearer ${UPSTREAM}`);
  assert.equal(up[0]!.headers['sec-websocket-protocol'], 'chat.v1,chat.v2');
  assert.doesNotMatch(JSON.stringify(up[0]!.headers), new RegExp(token));

  c.ws.send('hello');
  assert.equal((await c.next(1)).data.toString(), 'echo: hello');
  // binary passes byte for byte, both ways
  const bytes = Buffer.from([0, 1, 2, 255, 254, 0x40, 0x0a]);
  c.ws.send(bytes);
  const b = await c.next(2);
  assert.equal(b.binary, true);
  assert.deepEqual(b.data, bytes);
  c.ws.close(4002, 'client done');
  assert.deepEqual(await c.closed, { code: 4002, reason: 'client done' });
});

test('text the target sends is masked; text the client sends reaches the target as sent and is recorded masked', async () => {
  const token = await t.token(['ai'], 'ws-masked');
  const c = await open('/chat', { 'x-api-key': token });
  assert.equal(c.status, 101);
  assert.equal(c.ws.protocol, '', 'no subprotocol asked, none given');
  c.ws.send('secret');
  const m = (await c.next(1)).data.toString();
  assert.match(m, /^please write to .+ today$/);
  assert.doesNotMatch(m, /grace\.hopper@example\.org/);
  c.ws.send('mine is ada.lovelace@example.org');
  await c.next(2);
  assert.equal(target.messages.at(-1)!.text, 'mine is ada.lovelace@example.org');
  c.ws.close(1000);
  await c.closed;

  const events = await endedRecord('ws-masked');
  const cmd = events.find((e) => e.type === 'command')!;
  assert.equal(cmd.data.text, 'GET /chat');
  assert.equal(cmd.data.via, 'websocket');
  const results = events.filter((e) => e.type === 'result');
  const rows = results.flatMap((r) => r.data.rows as (string | null)[][]);
  assert.deepEqual(rows.map((r) => [r[0], r[2]]), [
    ['client->target', 'text'],
    ['target->client', 'text'],
    ['client->target', 'text'],
    ['target->client', 'text'],
  ]);
  assert.equal(rows[0]![4], 'secret');
  assert.equal(rows[1]![3], String('please write to grace.hopper@example.org today'.length), 'the size the target sent');
  assert.doesNotMatch(JSON.stringify(events), /grace\.hopper@example\.org|ada\.lovelace@example\.org/);
  assert.doesNotMatch(JSON.stringify(events), new RegExp(`${token}|${UPSTREAM}`));
  assert.ok(results.at(-1)!.data.maskedColumns);
  assert.match(String(results.at(-1)!.data.tag), /^closed 1000 by the client$/);
  const end = events.find((e) => e.type === 'session.end')!;
  assert.match(String(end.data.reason), /client closed the WebSocket \(1000\)/);
  assert.ok(cmd.seq < results[0]!.seq, 'the upgrade recorded before any message');
});

// (a lost greeting would leave the client waiting: the timeout turns that into a failure)
test('a target that speaks as soon as it accepts: its first message reaches the client, masked', { timeout: 20_000 }, async () => {
  const token = await t.token(['ai'], 'ws-greeted');
  const c = await open('/greet', { authorization: `Bearer ${token}` });
  const first = (await c.next(1)).data.toString();
  assert.match(first, /^hello, I am .+$/);
  assert.doesNotMatch(first, /grace\.hopper@example\.org/);
  c.ws.close(1000);
  await c.closed;
});

test('a close code and reason from the target reach the client; one from the client reaches the target', async () => {
  const token = await t.token(['ai'], 'ws-closer');
  const a = await open('/x', { authorization: `Bearer ${token}` });
  a.ws.send('close 4401 going away now');
  assert.deepEqual(await a.closed, { code: 4401, reason: 'going away now' });

  const b = await open('/y', { authorization: `Bearer ${token}` });
  const seen = target.closes.length;
  b.ws.close(4003, 'bye from client');
  await b.closed;
  while (target.closes.length === seen) await new Promise((r) => setImmediate(r));
  assert.deepEqual(target.closes.at(-1), { code: 4003, reason: 'bye from client' });
});

test('a client that drops its socket ends the target\'s, and the session ends in the record', async () => {
  const token = await t.token(['ai'], 'ws-dropper');
  const c = await open('/drop', { authorization: `Bearer ${token}` });
  c.ws.send('hello');
  await c.next(1);
  const seen = target.closes.length;
  c.ws.terminate();
  while (target.closes.length === seen) await new Promise((r) => setImmediate(r));
  assert.equal(target.closes.at(-1)!.code, 1006, 'dropped, not closed politely');
  const end = (await endedRecord('ws-dropper')).find((e) => e.type === 'session.end')!;
  assert.match(String(end.data.reason), /client closed the WebSocket \(1006\)/);
});

test('a target that drops its socket drops the client\'s, and the session ends in the record', async () => {
  const token = await t.token(['ai'], 'ws-target-drop');
  const c = await open('/target-drop', { authorization: `Bearer ${token}` });
  c.ws.send('hello');
  await c.next(1);
  target.last()!.terminate();
  assert.equal((await c.closed).code, 1006);
  const end = (await endedRecord('ws-target-drop')).find((e) => e.type === 'session.end')!;
  assert.match(String(end.data.reason), /target closed the WebSocket \(1006\)/);
});

test('a token revoked while its WebSocket is open: the next message is not passed, both legs close with 1008', async () => {
  const made = await t.gw.services.createToken({ name: 'ws-revoked', groups: ['ai'], ttlMs: null }, 'test');
  const c = await open('/revoke', { authorization: `Bearer ${made.token}` });
  c.ws.send('before');
  assert.equal((await c.next(1)).data.toString(), 'echo: before');
  const seenMessages = target.messages.length;
  const seenCloses = target.closes.length;
  await t.gw.services.revokeToken(made.id, 'test');
  c.ws.send('after');
  const closed = await c.closed;
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /revoked/);
  while (target.closes.length === seenCloses) await new Promise((r) => setImmediate(r));
  assert.equal(target.closes.at(-1)!.code, 1008);
  assert.equal(target.messages.length, seenMessages, 'the message after the revocation never reached the target');
  const end = (await endedRecord('ws-revoked')).find((e) => e.type === 'session.end')!;
  assert.match(String(end.data.reason), /gateway closed the WebSocket \(1008\): .*revoked/);
});

test('a blocked upgrade gets a plain 403 before any upgrade, and the target sees no connection', async () => {
  const token = await t.token(['ai'], 'ws-blocked');
  const before = target.upgrades.length;
  const c = await open('/admin/feed', { authorization: `Bearer ${token}` });
  assert.equal(c.status, 403);
  assert.match(JSON.parse(c.refused.body).error.message, /warden: blocked: no admin sockets/);
  const held = await open('/held', { authorization: `Bearer ${token}` });
  assert.equal(held.status, 403);
  assert.match(JSON.parse(held.refused.body).error.message, /held for review/);
  assert.ok(JSON.parse(held.refused.body).error.review);
  assert.equal(target.upgrades.length, before, 'nothing reached the target');
  const cmds = await commandsOf(t, 'ws-blocked');
  assert.deepEqual(cmds.map((x) => [x.data.text, x.data.decision]), [['GET /admin/feed', 'block'], ['GET /held', 'review']]);
});

test('no token or a bad one: 401 without an upgrade; an unknown connection: 404', async () => {
  const before = target.upgrades.length;
  const none = await open('/socket', {});
  assert.equal(none.status, 401);
  const bad = await open('/socket', { authorization: 'Bearer wdn_not-a-real-token' });
  assert.equal(bad.status, 401);
  assert.match(JSON.parse(bad.refused.body).error.message, /invalid or expired token/);
  const token = await t.token(['ai'], 'ws-lost');
  const ambiguous = await open('/a%2fb', { authorization: `Bearer ${token}` });
  assert.equal(ambiguous.status, 400);
  const lost = new WebSocket(`${t.httpUrl.replace(/^http/, 'ws')}/proxy/nope/socket`, { headers: { authorization: `Bearer ${token}` } });
  const [, res] = (await once(lost, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(res.statusCode, 404);
  assert.equal(target.upgrades.length, before);
});

test('a target that refuses the upgrade: the client gets its status, not a socket', async () => {
  const token = await t.token(['ai'], 'ws-refused');
  const c = await open('/refuse', { authorization: `Bearer ${token}` });
  assert.equal(c.status, 403);
  assert.match(JSON.parse(c.refused.body).error.message, /the target answered the WebSocket upgrade with 403/);
});

test('many large messages arrive whole and in order both ways', async () => {
  const token = await t.token(['ai'], 'ws-bulk');
  const c = await open('/bulk', { authorization: `Bearer ${token}` });
  const n = 200;
  const size = 64 * 1024;
  for (let i = 0; i < n; i++) c.ws.send(Buffer.alloc(size, i % 251));
  const last = await c.next(n);
  assert.equal(last.data.length, size);
  c.got.forEach((m, i) => {
    assert.equal(m.data.length, size);
    assert.equal(m.data[size - 1], i % 251);
  });
  c.ws.close(1000);
  await c.closed;
});

test('a client that stops reading stops the gateway reading from the target (backpressure), and gets everything once it reads again', async () => {
  const token = await t.token(['ai'], 'ws-slow');
  const c = await open('/slow', { authorization: `Bearer ${token}` });
  const server = target.last()!;
  c.ws.pause();
  // The target writes until its own socket holds a backlog: it can only if the gateway stopped
  // reading it. Were the gateway to read on, the backlog would sit in its memory instead and
  // the loop would end at the cap with the target's buffer near empty.
  const chunk = Buffer.alloc(256 * 1024, 7);
  let sent = 0;
  while (server.bufferedAmount < 8 * 1024 * 1024 && sent < 1024) {
    server.send(chunk);
    sent++;
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(server.bufferedAmount >= 8 * 1024 * 1024, `the target could send ${sent} messages (${sent / 4} MiB) without a backlog`);
  c.ws.resume();
  await c.next(sent);
  assert.equal(c.got.length, sent);
  assert.ok(c.got.every((m) => m.data.length === chunk.length && m.data[0] === 7));
  c.ws.close(1000);
  await c.closed;
});

test('an upgrade is judged on its headers like any request, and counts as a write (a socket carries messages both ways)', async () => {
  const token = await t.token(['ai'], 'ws-judged');
  const before = target.upgrades.length;
  const beta = await open('/socket', { authorization: `Bearer ${token}`, 'x-socket-beta': 'yes' });
  assert.equal(beta.status, 403);
  assert.match(beta.refused.body, /no beta sockets/);
  // a rule blocking writes under /ro/ stops the socket there, while a plain GET still reads
  const ro = await open('/ro/feed', { authorization: `Bearer ${token}` });
  assert.equal(ro.status, 403);
  assert.match(ro.refused.body, /read only/);
  assert.equal(target.upgrades.length, before, 'no refused upgrade reached the target');
  const get = await fetch(`${t.httpUrl}/proxy/live/ro/feed`, { headers: { authorization: `Bearer ${token}` } });
  await get.arrayBuffer();
  assert.notEqual(get.status, 403, 'a GET under /ro/ is a read');
});
