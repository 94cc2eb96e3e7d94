// Rules over HTTP query, headers and JSON body fields, through the gateway, with the official
// SDKs and raw HTTP against a local server that speaks the Anthropic and OpenAI wire formats.
// Ground truth is what the target received (`seen`): a blocked or held request never arrives,
// an allowed one arrives byte for byte. The evasions are tried too: a key twice, an escaped
// key, a body over the cap, compressed, chunked with no length, a lying content-type, header
// case and repeated headers, repeated query parameters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { commandsOf } from '../helpers/records.ts';

const KEY = 'sk-ant-upstream-rules-0123456789';
let t: TestGateway;
let llm: FakeLlm;
let token: string;

before(async () => {
  llm = await startFakeLlm({ apiKey: KEY, text: ['fine'] });
  const http = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'http', url: llm.url, credential: { header: 'x-api-key', value: KEY }, access: { groups: ['ai'] }, judgeBodyBytes: 4096, ...extra });
  t = await startTestGateway({
    connections: [
      http('claude'),
      http('lenient', { onUnknown: 'allow', judgeBodyBytes: 1024 }),
      http('wide', { judgeBodyBytes: 2 * 1024 * 1024 }),
      { name: 'openai', type: 'http', url: `${llm.url}/v1`, credential: { header: 'authorization', scheme: 'Bearer', value: KEY }, access: { groups: ['ai'] } },
    ],
    rules: [
      { name: 'no-opus', match: { types: ['http'], paths: ['/v1/messages'], body: { model: ['claude-opus-*'] } }, action: 'block', message: 'Opus is not for agents' },
      { name: 'no-gpt4', match: { types: ['http'], paths: ['/chat/completions'], body: { model: 'gpt-4*' } }, action: 'block' },
      { name: 'shell-tools', match: { types: ['http'], paths: ['/v1/messages'], body: { 'tools[*].name': ['bash', 'computer'] } }, action: 'review', review: { groups: ['admin'] } },
      { name: 'no-beta-query', match: { types: ['http'], query: { beta: 'true' } }, action: 'block' },
      { name: 'no-computer-use', match: { types: ['http'], headers: { 'anthropic-beta': 'computer-use-*' } }, action: 'block' },
    ],
  });
  token = await t.token(['ai'], 'rules-agent');
});
after(async () => {
  await t?.close();
  await llm?.close();
});

const claude = (connection = 'claude') => new Anthropic({ apiKey: token, baseURL: `${t.httpUrl}/proxy/${connection}`, maxRetries: 0 });
const ask = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 64, messages: [{ role: 'user' as const, content: 'hello' }], ...extra });

interface Sent {
  status: number;
  body: { error?: { message?: string; review?: string } };
}
/** Raw HTTP: `chunked` sends the body in pieces with no content-length. */
function send(path: string, body: string | Buffer, opts: { headers?: OutgoingHttpHeaders; chunked?: boolean; connection?: string } = {}): Promise<Sent> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const headers: OutgoingHttpHeaders = { 'x-api-key': token, 'content-type': 'application/json', ...opts.headers };
  if (!opts.chunked) headers['content-length'] = bytes.length;
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${t.httpUrl}/proxy/${opts.connection ?? 'claude'}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    // a target left waiting for bytes that never come fails the test instead of hanging it
    req.setTimeout(15_000, () => req.destroy(new Error('no answer in 15s')));
    if (opts.chunked) {
      for (let i = 0; i < bytes.length; i += 700) req.write(bytes.subarray(i, i + 700));
      req.end();
    } else req.end(bytes);
  });
}
/** What reached the target while `run` ran. */
async function arrived<T>(run: () => Promise<T>) {
  const before = llm.seen.length;
  const out = await run();
  return { out, seen: llm.seen.slice(before) };
}

test('a model blocked by glob: the SDK gets a 403 naming the rule\'s message and nothing reaches the target; another model goes through', async () => {
  const blocked = await arrived(() => claude().messages.create(ask('claude-opus-4-1')).catch((e: unknown) => e));
  assert.ok(blocked.out instanceof Anthropic.PermissionDeniedError, String(blocked.out));
  assert.match(blocked.out.message, /blocked: Opus is not for agents/);
  assert.equal(blocked.seen.length, 0);
  const ok = await arrived(() => claude().messages.create(ask('claude-haiku-4-5')));
  assert.equal(ok.seen.length, 1);
  assert.equal(JSON.parse(ok.seen[0]!.body).model, 'claude-haiku-4-5');
});

test('the OpenAI SDK: a model blocked by glob on /chat/completions, streaming or not; another model streams through', async () => {
  const oa = new OpenAI({ apiKey: token, baseURL: `${t.httpUrl}/proxy/openai`, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'hi' }];
  const r = await arrived(async () => [
    await oa.chat.completions.create({ model: 'gpt-4o', messages }).catch((e: unknown) => e),
    await oa.chat.completions.create({ model: 'gpt-4.1', messages, stream: true }).catch((e: unknown) => e),
  ]);
  for (const e of r.out) assert.ok(e instanceof OpenAI.PermissionDeniedError, String(e));
  assert.equal(r.seen.length, 0);
  const ok = await arrived(async () => {
    let text = '';
    for await (const c of await oa.chat.completions.create({ model: 'o3-mini', messages, stream: true })) text += c.choices[0]?.delta.content ?? '';
    return text;
  });
  assert.equal(ok.out, 'fine');
  assert.equal(ok.seen.length, 1);
});

test('a tool held for review: the 403 names the review; once approved the same request runs once; another body is held anew', async () => {
  const tools = [{ name: 'web', input_schema: { type: 'object' as const } }, { name: 'bash', input_schema: { type: 'object' as const } }];
  const first = await arrived(() => claude().messages.create(ask('claude-haiku-4-5', { tools })).catch((e: unknown) => e));
  assert.ok(first.out instanceof Anthropic.PermissionDeniedError);
  const reviewId = (first.out.error as { error: { review: string } }).error.review;
  assert.match(reviewId, /\S/);
  assert.match(first.out.message, new RegExp(`held for review ${reviewId}`));
  assert.equal(first.seen.length, 0);
  const approved = await fetch(`${t.httpUrl}/api/v1/reviews/${reviewId}/approve`, { method: 'POST', headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(approved.status, 200, await approved.text());
  // the approval is for these bytes: a different body with the same tool is held again
  const other = await arrived(() => claude().messages.create(ask('claude-haiku-4-5', { tools, max_tokens: 65 })).catch((e: unknown) => e));
  assert.ok(other.out instanceof Anthropic.PermissionDeniedError);
  assert.notEqual((other.out.error as { error: { review: string } }).error.review, reviewId);
  assert.equal(other.seen.length, 0);
  const again = await arrived(() => claude().messages.create(ask('claude-haiku-4-5', { tools })));
  assert.equal(again.seen.length, 1);
  const twice = await arrived(() => claude().messages.create(ask('claude-haiku-4-5', { tools })).catch((e: unknown) => e));
  assert.ok(twice.out instanceof Anthropic.PermissionDeniedError, 'an approval runs the request once');
  assert.equal(twice.seen.length, 0);
  // the record keeps the request line as the command and binds the body by its digest
  const cmds = await commandsOf(t, 'rules-agent');
  const held = cmds.find((c) => c.data.reviewId === reviewId && c.data.decision === 'review')!;
  assert.equal(held.data.text, 'POST /v1/messages');
  const sent = JSON.stringify(ask('claude-haiku-4-5', { tools }));
  assert.deepEqual(held.data.params, [`body sha256:${createHash('sha256').update(again.seen[0]!.body).digest('hex')}`]);
  assert.equal(JSON.parse(again.seen[0]!.body).tools.length, JSON.parse(sent).tools.length);
});

test('query rules: a parameter sent twice counts each value; encoded values are decoded', async () => {
  const body = JSON.stringify(ask('claude-haiku-4-5'));
  const r = await arrived(async () => [
    await send('/v1/messages?beta=true', body),
    await send('/v1/messages?beta=false&beta=true', body),
    await send('/v1/messages?beta=%74rue', body),
  ]);
  for (const x of r.out) {
    assert.equal(x.status, 403);
    assert.match(x.body.error!.message!, /blocked by rule "no-beta-query"/);
  }
  assert.equal(r.seen.length, 0);
  const ok = await arrived(() => send('/v1/messages?beta=false', body));
  assert.equal(ok.out.status, 200);
  assert.equal(ok.seen.length, 1);
});

test('header rules: any case of the name, a header sent twice, a comma list', async () => {
  const body = JSON.stringify(ask('claude-haiku-4-5'));
  const r = await arrived(async () => [
    await send('/v1/messages', body, { headers: { 'ANTHROPIC-BETA': 'computer-use-2025-01-24' } }),
    await send('/v1/messages', body, { headers: { 'anthropic-beta': ['tools-2024-04-04', 'computer-use-2025-01-24'] } }),
    await send('/v1/messages', body, { headers: { 'Anthropic-Beta': 'tools-2024-04-04,computer-use-2025-01-24' } }),
  ]);
  for (const x of r.out) {
    assert.equal(x.status, 403);
    assert.match(x.body.error!.message!, /blocked by rule "no-computer-use"/);
  }
  assert.equal(r.seen.length, 0);
  const ok = await arrived(() => send('/v1/messages', body, { headers: { 'anthropic-beta': 'tools-2024-04-04' } }));
  assert.equal(ok.out.status, 200);
  assert.equal(ok.seen.length, 1);
});

test('the body is judged as the target parses it: an escaped key, a lying content-type, chunks with no length', async () => {
  const opus = '{"mod\\u0065l":"claude-opus-4-1","max_tokens":64,"messages":[]}';
  assert.equal(JSON.parse(opus).model, 'claude-opus-4-1');
  const r = await arrived(async () => [
    await send('/v1/messages', opus),
    await send('/v1/messages', JSON.stringify(ask('claude-opus-4-1')), { headers: { 'content-type': 'text/plain' } }),
    await send('/v1/messages', JSON.stringify(ask('claude-opus-4-1', { pad: 'x'.repeat(3000) })), { chunked: true }),
  ]);
  for (const x of r.out) {
    assert.equal(x.status, 403);
    assert.match(x.body.error!.message!, /blocked: Opus is not for agents/);
  }
  assert.equal(r.seen.length, 0);
  // what is allowed arrives byte for byte: spacing, key order and all, chunked or not
  const odd = ' { "max_tokens" : 64 ,\n "model":"claude-haiku-4-5", "messages":[], "pad":"' + 'y'.repeat(3000) + '" }\n';
  const ok = await arrived(async () => [await send('/v1/messages', odd), await send('/v1/messages', odd, { chunked: true })]);
  assert.deepEqual(ok.out.map((x) => x.status), [200, 200]);
  assert.deepEqual(ok.seen.map((s) => s.body), [odd, odd]);
  assert.equal(ok.seen[1]!.headers['transfer-encoding'], 'chunked');
});

test('a body that cannot be read is opaque (onUnknown: review here), never judged as if the field were absent', async () => {
  const cases: [string, Promise<Sent>][] = [
    ['appears twice', send('/v1/messages', '{"model":"claude-haiku-4-5","model":"claude-opus-4-1","max_tokens":64,"messages":[]}')],
    ['compressed', send('/v1/messages', gzipSync(JSON.stringify(ask('claude-opus-4-1'))), { headers: { 'content-encoding': 'gzip' } })],
    ['larger \\(\\d+ bytes\\) than the 4096 bytes', send('/v1/messages', JSON.stringify(ask('claude-opus-4-1', { pad: 'x'.repeat(5000) })))],
    ['larger than the 4096 bytes', send('/v1/messages', JSON.stringify(ask('claude-opus-4-1', { pad: 'x'.repeat(5000) })), { chunked: true })],
    ['not JSON', send('/v1/messages', 'model=claude-opus-4-1', { headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
    ['not UTF-8', send('/v1/messages', Buffer.concat([Buffer.from('{"model":"claude-opus-4-1","x":"'), Buffer.from([0xff]), Buffer.from('"}')]))],
  ];
  const r = await arrived(() => Promise.all(cases.map(([, p]) => p)));
  r.out.forEach((x, i) => {
    assert.equal(x.status, 403, cases[i]![0]);
    assert.match(x.body.error!.message!, new RegExp(`held for review .*the request body cannot be judged: .*${cases[i]![0]}`), x.body.error!.message);
    assert.match(String(x.body.error!.review), /\S/);
  });
  assert.equal(r.seen.length, 0);
});

test('a connection whose onUnknown is allow: a body over the cap is sent whole, the part read for judging first', async () => {
  const big = JSON.stringify(ask('claude-haiku-4-5', { pad: 'z'.repeat(20_000) }));
  const r = await arrived(async () => [await send('/v1/messages', big, { connection: 'lenient', chunked: true }), await send('/v1/messages', big, { connection: 'lenient' })]);
  assert.deepEqual(r.out.map((x) => x.status), [200, 200]);
  assert.deepEqual(r.seen.map((s) => s.body), [big, big]);
  // within the cap the rules still decide there
  const opus = await arrived(() => send('/v1/messages', JSON.stringify(ask('claude-opus-4-1')), { connection: 'lenient' }));
  assert.equal(opus.out.status, 403);
  assert.equal(opus.seen.length, 0);
});

test('no rule reads the body of other paths: a large non-JSON upload streams through unread', async () => {
  const upload = Buffer.alloc(3 * 1024 * 1024, 'a');
  const r = await arrived(() => send('/v1/files', upload, { headers: { 'content-type': 'application/octet-stream' }, chunked: true }));
  assert.equal(r.out.status, 404); // the fake target has no /v1/files: what matters is that it got the body
  assert.equal(r.seen.length, 1);
  assert.equal(r.seen[0]!.body.length, upload.length);
});

test('curl, which asks for 100-continue before a body over 1 MiB: judged on the body it then sends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-curl-'));
  const curl = async (connection: string, body: string, extra: string[] = []) => {
    const file = join(dir, 'body.json');
    writeFileSync(file, body);
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--max-time', '15', '-w', '\n%{http_code}', '-H', `x-api-key: ${token}`, '-H', 'content-type: application/json', ...extra, '--data-binary', `@${file}`, `${t.httpUrl}/proxy/${connection}/v1/messages`], { maxBuffer: 16 << 20 });
    const lines = stdout.split('\n');
    return { status: Number(lines.pop()), text: lines.join('\n') };
  };
  try {
    const pad = 'p'.repeat(1_100_000);
    const blocked = await arrived(() => curl('wide', JSON.stringify(ask('claude-opus-4-1', { pad }))));
    assert.equal(blocked.out.status, 403);
    assert.match(blocked.out.text, /Opus is not for agents/);
    assert.equal(blocked.seen.length, 0);
    const chunked = await arrived(() => curl('wide', JSON.stringify(ask('claude-opus-4-1', { pad })), ['-H', 'transfer-encoding: chunked']));
    assert.equal(chunked.out.status, 403);
    assert.equal(chunked.seen.length, 0);
    const ok = await arrived(() => curl('wide', JSON.stringify(ask('claude-haiku-4-5', { pad }))));
    assert.equal(ok.out.status, 200);
    assert.equal(ok.seen[0]!.headers.expect, '100-continue');
    assert.equal(ok.seen[0]!.body, JSON.stringify(ask('claude-haiku-4-5', { pad })));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
