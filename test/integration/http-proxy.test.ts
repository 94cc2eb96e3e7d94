// HTTP APIs through the gateway, driven by the official Anthropic SDK against a local server
// that speaks the Messages API: the caller holds only a Warden token (its SDK's API key), the
// gateway sends the connection's own key, each request is judged and recorded before it
// leaves, and text bodies and SSE events are masked as they stream. Ground truth is what the
// target received (headers, requests) and the gateway's record.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { commandsOf, eventsOf } from '../helpers/records.ts';

const UPSTREAM_KEY = 'sk-ant-upstream-0123456789abcdef';
let t: TestGateway;
let llm: FakeLlm;
let slow: FakeLlm;
let split: FakeLlm;
/** an answer whose secrets are cut across deltas, as models stream them */
const PROSE = 'The quarterly numbers look fine and the migration finished over the weekend without any incident. ';
const SPLIT = [PROSE, PROSE, PROSE, 'Write to grace.sp', 'lit@example.org now. Card 4111 1111 ', '1111 1111 ', 'works. Key sk-ant-api03-', 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 done.'];

before(async () => {
  llm = await startFakeLlm({ apiKey: UPSTREAM_KEY, text: ['Write to ', 'grace.hopper@example.org', ' for access.'] });
  split = await startFakeLlm({ apiKey: UPSTREAM_KEY, text: SPLIT });
  slow = await startFakeLlm({ apiKey: UPSTREAM_KEY, text: Array.from({ length: 50 }, (_, i) => `word${i} `), eventDelayMs: 100 });
  t = await startTestGateway({
    connections: [
      { name: 'claude', type: 'http', url: llm.url, credential: { header: 'x-api-key', value: UPSTREAM_KEY }, access: { groups: ['ai'] } },
      { name: 'slow', type: 'http', url: slow.url, credential: { header: 'x-api-key', value: UPSTREAM_KEY }, access: { groups: ['ai'] } },
      { name: 'split', type: 'http', url: split.url, credential: { header: 'x-api-key', value: UPSTREAM_KEY }, access: { groups: ['ai'] } },
    ],
    rules: [
      { name: 'no-batches', match: { types: ['http'], paths: ['/v1/messages/batches*'] }, action: 'block', message: 'batch jobs are not allowed' },
      { name: 'no-deletes', match: { types: ['http'], methods: ['delete'] }, action: 'block' },
    ],
  });
});
after(async () => {
  await t?.close();
  await llm?.close();
  await slow?.close();
  await split?.close();
});

const client = (token: string, connection = 'claude') => new Anthropic({ apiKey: token, baseURL: `${t.httpUrl}/proxy/${connection}`, maxRetries: 0 });
const ask = { model: 'claude-test', max_tokens: 64, messages: [{ role: 'user' as const, content: 'who do I write to?' }] };

test('the SDK works unchanged with a Warden token as its key; the target gets the connection\'s key, never the token; the answer is masked', async () => {
  const token = await t.token(['ai'], 'sdk-agent');
  const before = llm.seen.length;
  const msg = await client(token).messages.create(ask);
  const text = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  assert.match(text, /^Write to .+ for access\.$/);
  assert.doesNotMatch(text, /grace\.hopper@example\.org/);
  assert.equal(msg.usage.input_tokens, 12);
  const got = llm.seen.slice(before);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.headers['x-api-key'], UPSTREAM_KEY);
  assert.doesNotMatch(JSON.stringify(got[0]!.headers), new RegExp(token));
  assert.equal(JSON.parse(got[0]!.body).model, 'claude-test');
});

test('a streamed answer comes event by event, masked, and is whole for the SDK', async () => {
  const token = await t.token(['ai'], 'stream-agent');
  const stream = client(token).messages.stream(ask);
  const deltas: string[] = [];
  stream.on('text', (d) => deltas.push(d));
  const final = await stream.finalMessage();
  // one text event per delta, and one for what the masker held back at the end of the block
  assert.ok(deltas.length >= 3, JSON.stringify(deltas));
  assert.equal(deltas.join(''), final.content.map((b) => (b.type === 'text' ? b.text : '')).join(''));
  const text = final.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  assert.doesNotMatch(text, /grace\.hopper@example\.org/);
  assert.match(text, /^Write to .+ for access\.$/);
  assert.equal(final.stop_reason, 'end_turn');
});

test('each request is recorded before it leaves, as the caller\'s, with what came back', async () => {
  await t.gw.services.audit.flush();
  const cmds = await commandsOf(t, 'sdk-agent');
  assert.deepEqual(cmds.map((c) => [c.data.text, c.data.decision]), [['POST /v1/messages', 'allow']]);
  const events = await eventsOf(t, 'sdk-agent');
  const start = events.find((e) => e.type === 'session.start')!;
  assert.equal(start.data.protocol, 'http');
  assert.equal(start.data.connection, 'claude');
  // the request's headers are kept, the one that carried the caller's token redacted
  const sent = JSON.parse(String((start.data.attributes as Record<string, string>).requestHeaders)) as Record<string, string>;
  assert.equal(sent.authorization ?? sent['x-api-key'], '[REDACTED]');
  assert.doesNotMatch(JSON.stringify(events), /wdn_/, 'no Warden token in the record');
  const result = events.find((e) => e.type === 'result')!;
  assert.equal(result.data.tag, '200');
  assert.deepEqual(result.data.maskedColumns, ['response_body', 'llm_response']);
  // the bodies as they went: the request, and the response as the client got it (masked)
  const [[request, response, headers, sse, llmRequest, llmResponse]] = result.data.rows as (string | null)[][];
  assert.equal(sse, null, 'not a stream of events');
  assert.equal(JSON.parse(llmRequest!).model, 'claude-test');
  assert.doesNotMatch(llmResponse!, /grace\.hopper/);
  assert.equal(JSON.parse(request!).model, 'claude-test');
  assert.equal(JSON.parse(response!).content[0].type, 'text');
  assert.doesNotMatch(response!, /grace\.hopper/);
  assert.equal(JSON.parse(headers!)['content-type'], 'application/json');
  assert.ok(result.seq > cmds[0]!.seq);
  assert.doesNotMatch(JSON.stringify(events), new RegExp(UPSTREAM_KEY));
});

test('a rule blocks by path or method: the SDK gets a 403 naming it, and the target never sees the request', async () => {
  const token = await t.token(['ai'], 'blocked-agent');
  const before = llm.seen.length;
  const err = await client(token).messages.batches.list().then(() => null, (e: Error) => e);
  assert.ok(err instanceof Anthropic.PermissionDeniedError, String(err));
  assert.match(err.message, /warden: blocked: batch jobs are not allowed/);
  const del = await fetch(`${t.httpUrl}/proxy/claude/v1/files/f1`, { method: 'DELETE', headers: { 'x-api-key': token } });
  assert.equal(del.status, 403);
  assert.equal(llm.seen.length, before, 'nothing reached the target');
  const cmds = await commandsOf(t, 'blocked-agent');
  assert.deepEqual(cmds.map((c) => [c.data.text, c.data.decision, c.data.rule]), [
    ['GET /v1/messages/batches', 'block', 'no-batches'],
    ['DELETE /v1/files/f1', 'block', 'no-deletes'],
  ]);
});

test('a bad token, no token, or a caller without access: refused before anything leaves', async () => {
  const before = llm.seen.length;
  const bad = await client('wdn_forged_token').messages.create(ask).then(() => null, (e: Error) => e);
  assert.ok(bad instanceof Anthropic.AuthenticationError, String(bad));
  const none = await fetch(`${t.httpUrl}/proxy/claude/v1/messages`, { method: 'POST', body: '{}' });
  assert.equal(none.status, 401);
  const outsider = await t.token(['dev'], 'outsider');
  const denied = await client(outsider).messages.create(ask).then(() => null, (e: Error) => e);
  assert.ok(denied instanceof Anthropic.PermissionDeniedError, String(denied));
  const unknown = await fetch(`${t.httpUrl}/proxy/nope/v1/messages`, { method: 'POST', headers: { 'x-api-key': outsider }, body: '{}' });
  assert.equal(unknown.status, 404);
  assert.equal(llm.seen.length, before);
});

test('a client that goes away mid-stream ends the request at the target', async () => {
  const token = await t.token(['ai'], 'leaving-agent');
  const ac = new AbortController();
  const stream = client(token, 'slow').messages.stream(ask, { signal: ac.signal });
  let got = 0;
  stream.on('text', () => {
    if (++got === 3) ac.abort();
  });
  await stream.finalMessage().catch(() => {});
  const seen = slow.seen.at(-1)!;
  for (let i = 0; i < 50 && !seen.aborted; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen.aborted, true, 'the target saw its client go away');
  assert.ok(got < 50);
});

test('path spellings a server reads as the blocked path are judged as that path; encoded slashes are refused', async () => {
  const token = await t.token(['ai'], 'evasive-agent');
  const before = llm.seen.length;
  // node:http sends the path as written (fetch would resolve the dot segments itself)
  const get = (path: string) =>
    new Promise<{ status: number; text: () => Promise<string> }>((resolve, reject) => {
      const req = httpRequest(`${t.httpUrl}/proxy/claude`, { path: `/proxy/claude${path}`, headers: { 'x-api-key': token } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: async () => body }));
      });
      req.on('error', reject);
      req.end();
    });
  for (const path of ['/v1/messages//batches', '/v1/messages/./batches', '/v1/x/../messages/batches', '/v1/messages/b%61tches', '/V1/Messages/Batches', '//v1/messages/batches?limit=1']) {
    const r = await get(path);
    assert.equal(r.status, 403, path);
    assert.match(await r.text(), /batch jobs are not allowed/, path);
  }
  for (const path of ['/v1/messages%2Fbatches', '/v1/messages%5cbatches']) assert.equal((await get(path)).status, 400, path);
  assert.equal(llm.seen.length, before, 'nothing reached the target');
});

test('the OpenAI SDK too: its key (a Warden token) goes as Authorization: Bearer and is swapped for the connection\'s; JSON and streamed chunks masked', async () => {
  const gw = await startTestGateway({
    connections: [{ name: 'openai', type: 'http', url: `${llm.url}/v1`, credential: { header: 'authorization', scheme: 'Bearer', value: UPSTREAM_KEY }, access: { groups: ['ai'] } }],
  });
  try {
    const token = (await gw.gw.services.createToken({ name: 'oa-agent', groups: ['ai'], ttlMs: null }, 'test')).token;
    const oa = new OpenAI({ apiKey: token, baseURL: `${gw.httpUrl}/proxy/openai`, maxRetries: 0 });
    const before = llm.seen.length;
    const r = await oa.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
    assert.match(r.choices[0]!.message.content ?? '', /^Write to .+ for access\.$/);
    assert.doesNotMatch(r.choices[0]!.message.content ?? '', /grace\.hopper/);
    const stream = await oa.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? '';
    }
    assert.ok(chunks >= 4, `chunks came one by one (${chunks})`);
    assert.doesNotMatch(text, /grace\.hopper/);
    const got = llm.seen.slice(before);
    assert.equal(got.length, 2);
    for (const g of got) {
      assert.equal(g.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
      assert.equal(g.url, '/v1/chat/completions');
      assert.doesNotMatch(JSON.stringify(g.headers), new RegExp(token));
    }
  } finally {
    await gw.close();
  }
});

test('a secret cut across streamed deltas is masked: the deltas of one answer are masked as one text (Anthropic and OpenAI)', async () => {
  const token = await t.token(['ai'], 'split-agent');
  const leaked = /grace|split@|lit@|example\.org|4111|1111 1111|AbCdEf|sk-ant-api03/;
  const stream = client(token, 'split').messages.stream(ask);
  const deltas: string[] = [];
  stream.on('text', (d) => deltas.push(d));
  const final = await stream.finalMessage();
  const text = final.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  assert.equal(deltas.join(''), text);
  assert.doesNotMatch(text, leaked, text);
  assert.match(text, /Write to .+ now\. Card .+ works\. Key .+ done\.$/s, text);
  assert.ok(text.startsWith(PROSE.repeat(3)));
  // held back: at most the masker's tail, so the prose went out before the answer ended
  assert.ok(deltas.slice(0, 3).join('').length >= PROSE.length, `the answer still streamed in parts (${JSON.stringify(deltas)})`);
  assert.equal(final.stop_reason, 'end_turn');

  const gw = await startTestGateway({ connections: [{ name: 'oa', type: 'http', url: `${split.url}/v1`, credential: { header: 'authorization', scheme: 'Bearer', value: UPSTREAM_KEY }, access: { groups: ['ai'] } }] });
  try {
    const oaToken = (await gw.gw.services.createToken({ name: 'oa-split', groups: ['ai'], ttlMs: null }, 'test')).token;
    const oa = new OpenAI({ apiKey: oaToken, baseURL: `${gw.httpUrl}/proxy/oa`, maxRetries: 0 });
    let got = '';
    let finish: string | null = null;
    for await (const c of await oa.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true })) {
      got += c.choices[0]?.delta?.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.doesNotMatch(got, leaked, got);
    assert.match(got, /Write to .+ done\.$/s, got);
    assert.equal(finish, 'stop');
  } finally {
    await gw.close();
  }
});

test('a target that compresses its answer anyway is read and masked; one in an encoding Warden cannot read is refused, not passed on', async () => {
  const gz = await startFakeLlm({ apiKey: UPSTREAM_KEY, text: ['Write to grace.hopper@example.org for access.'], encoding: 'gzip' });
  const zs = await startFakeLlm({ apiKey: UPSTREAM_KEY, text: ['Write to grace.hopper@example.org for access.'], encoding: 'zstd' });
  const conn = (name: string, url: string) => ({ name, type: 'http', url, credential: { header: 'x-api-key', value: UPSTREAM_KEY }, access: { groups: ['ai'] } });
  const gw = await startTestGateway({ connections: [conn('gz', gz.url), conn('zs', zs.url)] });
  try {
    const token = (await gw.gw.services.createToken({ name: 'enc-agent', groups: ['ai'], ttlMs: null }, 'test')).token;
    const sdk = (name: string) => new Anthropic({ apiKey: token, baseURL: `${gw.httpUrl}/proxy/${name}`, maxRetries: 0 });
    const msg = await sdk('gz').messages.create(ask);
    const text = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    assert.match(text, /^Write to .+ for access\.$/);
    assert.doesNotMatch(text, /grace\.hopper/);
    const raw = await fetch(`${gw.httpUrl}/proxy/zs/v1/messages`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: JSON.stringify(ask) });
    assert.equal(raw.status, 502);
    const body = await raw.text();
    assert.match((JSON.parse(body) as { error: { message: string } }).error.message, /encoded with "zstd"/);
    assert.doesNotMatch(body, /grace/);
  } finally {
    await gw.close();
    await gz.close();
    await zs.close();
  }
});

test('a key revoked on this gateway is refused at its very next request, though its record was just read', async () => {
  const token = await t.token(['ai'], 'revoked-soon');
  const before = llm.seen.length;
  await client(token).messages.create(ask);
  await client(token).messages.create(ask);
  assert.equal(await t.gw.services.revokeToken('revoked-soon', 'test'), 1);
  const refused = await fetch(`${t.httpUrl}/proxy/claude/v1/messages`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: JSON.stringify(ask) });
  assert.equal(refused.status, 401);
  await refused.arrayBuffer();
  assert.equal(llm.seen.length, before + 2, 'only the two requests before the revocation reached the target');
});
