// What the record keeps of HTTP streams and LLM calls, and what masking does with bodies that
// try to pass as something else. Driven by the official Anthropic and OpenAI SDKs against a
// local server speaking their wire format (streamed tool calls whose arguments carry an email
// and a card cut across fragments), and by raw HTTP and curl against a target that answers
// the same secret in other forms (no content-type, octet-stream, csv, UTF-16, NUL bytes).
// Ground truth: the bytes the client got, and the record read back as `sessions show` reads it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { eventsOf } from '../helpers/records.ts';
import { run } from '../helpers/clients.ts';

const BIN = new URL('../../bin/warden.js', import.meta.url).pathname;

const KEY = 'sk-upstream-0123456789abcdef';
const EMAIL = 'grace.split@example.org';
/** the secrets in any form they could leak in */
const LEAK = /grace|split@|lit@ex|example\.org|4111|1111 1111/;
// The tool's arguments as a model streams them: cut inside strings, inside escapes, inside the email and the card.
const ARGS = ['{"to": "grace.sp', 'lit@exa', 'mple.org", "card": "4111 1111 ', '1111 1111", "subject": "caf\\u00', 'e9 \\"menu\\"", "copies": 2}'];
const TEXT = ['Sending the menu to grace.sp', 'lit@example.org now.'];

let t: TestGateway;
let llm: FakeLlm;
let files: Server;
let filesUrl = '';

before(async () => {
  llm = await startFakeLlm({ apiKey: KEY, text: TEXT, tool: { name: 'send_email', args: ARGS } });
  files = await startFiles();
  t = await startTestGateway({
    connections: [
      { name: 'claude', type: 'http', url: llm.url, credential: { header: 'x-api-key', value: KEY }, access: { groups: ['ai'] } },
      { name: 'openai', type: 'http', url: `${llm.url}/v1`, credential: { header: 'authorization', scheme: 'Bearer', value: KEY }, access: { groups: ['ai'] } },
      { name: 'files', type: 'http', url: filesUrl, credential: { header: 'x-api-key', value: KEY }, access: { groups: ['ai'] } },
      { name: 'plain', type: 'http', url: llm.url, credential: { header: 'x-api-key', value: KEY }, masking: { enabled: false }, access: { groups: ['ai'] } },
    ],
  });
});
after(async () => {
  await t?.close();
  await llm?.close();
  await new Promise<void>((r) => (files ? files.close(() => r()) : r()));
});

type Row = (string | null)[];
/** The one HTTP result an identity's session recorded, by column. */
async function recorded(identity: string): Promise<{ row: Record<string, string | null>; masked: string[]; events: Awaited<ReturnType<typeof eventsOf>> }> {
  const events = await eventsOf(t, identity);
  const results = events.filter((e) => e.type === 'result');
  assert.equal(results.length, 1);
  const data = results[0]!.data;
  const cols = (data.columns as { name: string }[]).map((c) => c.name);
  const values = (data.rows as Row[])[0]!;
  return { row: Object.fromEntries(cols.map((c, i) => [c, values[i] ?? null])), masked: (data.maskedColumns as string[] | undefined) ?? [], events };
}

test('Anthropic: a streamed tool call whose arguments carry an email and a card cut across fragments reaches the SDK masked, as valid JSON of the same shape', async () => {
  const token = await t.token(['ai'], 'claude-tools');
  const sdk = new Anthropic({ apiKey: token, baseURL: `${t.httpUrl}/proxy/claude`, maxRetries: 0 });
  const stream = sdk.messages.stream({
    model: 'claude-test', max_tokens: 128,
    system: 'You send emails.',
    messages: [{ role: 'user', content: `Send the menu to ${EMAIL}` }],
    tools: [{ name: 'send_email', description: 'send', input_schema: { type: 'object', properties: {} } }],
  });
  const partials: string[] = [];
  stream.on('inputJson', (delta) => partials.push(delta));
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  const tool = final.content.find((b) => b.type === 'tool_use');
  assert.ok(tool && tool.type === 'tool_use');
  const input = tool.input as Record<string, unknown>;
  // the SDK parsed what it got: same keys and types, the secrets replaced, the rest as sent
  assert.deepEqual(Object.keys(input), ['to', 'card', 'subject', 'copies']);
  assert.equal(input.subject, 'café "menu"');
  assert.equal(input.copies, 2);
  assert.doesNotMatch(JSON.stringify(final), LEAK);
  assert.doesNotMatch(partials.join(''), LEAK);
  assert.ok(partials.length >= 2, `the arguments still streamed in parts (${partials.length})`);
  const text = final.content.find((b) => b.type === 'text');
  assert.ok(text?.type === 'text' && /^Sending the menu to .+ now\.$/.test(text.text), JSON.stringify(text));

  const { row, masked } = await recorded('claude-tools');
  // server-sent events are kept one by one, as the client got them, with their time
  assert.equal(row.response_body, null);
  const events = JSON.parse(row.response_events!) as { t: number; event?: string; data: string }[];
  assert.equal(events[0]!.event, 'message_start');
  assert.equal(events.at(-1)!.event, 'message_stop');
  assert.ok(events.every((e) => typeof e.t === 'number' && e.t >= 0));
  assert.ok(events.filter((e) => e.event === 'content_block_delta').length >= ARGS.length + TEXT.length);
  assert.doesNotMatch(row.response_events!, LEAK);
  // the answer assembled: its text, the tool call with its whole arguments, stop reason, usage
  const answer = JSON.parse(row.llm_response!) as { role: string; content: { type: string; name?: string; text?: string; arguments?: Record<string, unknown> }[]; stop_reason: string; usage: { input_tokens: number; output_tokens: number } };
  assert.equal(answer.role, 'assistant');
  assert.deepEqual(answer.content.map((b) => b.type), ['text', 'tool_call']);
  assert.equal(answer.content[0]!.text, text.text);
  assert.equal(answer.content[1]!.name, 'send_email');
  assert.deepEqual(answer.content[1]!.arguments, input);
  assert.equal(answer.stop_reason, 'tool_use');
  assert.equal(answer.usage.input_tokens, 12);
  // the request: model, system, messages, tool names, masked
  const ask = JSON.parse(row.llm_request!) as { model: string; system: string; messages: { role: string; content: string }[]; tools: string[] };
  assert.equal(ask.model, 'claude-test');
  assert.equal(ask.system, 'You send emails.');
  assert.deepEqual(ask.tools, ['send_email']);
  assert.match(ask.messages[0]!.content, /^Send the menu to (?!grace)/);
  assert.doesNotMatch(row.llm_request!, LEAK);
  assert.deepEqual(masked, ['response_events', 'llm_response']);
});

test('`warden sessions show` prints the call as a conversation and the events one a line; --json gives the same record', async () => {
  await t.gw.services.audit.flush();
  const session = (await t.gw.services.listSessions({ limit: 100 })).find((s) => s.identityName === 'claude-tools')!;
  const env = { WARDEN_TOKEN: t.adminToken };
  const human = await run(process.execPath, [BIN, 'sessions', 'show', session.id, '--gateway', t.httpUrl], { env });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /LLM request \(anthropic\): model claude-test, max_tokens 128, stream, tools send_email/);
  assert.match(human.stdout, /system: You send emails\./);
  assert.match(human.stdout, /LLM answer \(assistant, claude-test\): stop tool_use usage input_tokens=12/);
  assert.match(human.stdout, /tool call send_email\(\{"to":/);
  assert.match(human.stdout, /\+\d+ms message_start /);
  assert.match(human.stdout, /\+\d+ms content_block_delta \[1\] partial_json "/);
  assert.doesNotMatch(human.stdout, LEAK);
  const json = await run(process.execPath, [BIN, 'sessions', 'show', session.id, '--gateway', t.httpUrl, '--json'], { env });
  assert.equal(json.code, 0, json.stderr);
  const shown = JSON.parse(json.stdout) as { events: { type: string; data: { columns: { name: string }[]; rows: Row[] } }[] };
  const result = shown.events.find((e) => e.type === 'result')!;
  assert.deepEqual(result.data.columns.map((c) => c.name), ['request_body', 'response_body', 'response_headers', 'response_events', 'llm_request', 'llm_response']);
  assert.equal((JSON.parse(result.data.rows[0]![5]!) as { stop_reason: string }).stop_reason, 'tool_use');
  assert.doesNotMatch(json.stdout, LEAK);
});

test('OpenAI: streamed tool_calls arguments cut across chunks are masked for the SDK and assembled in the record', async () => {
  const token = await t.token(['ai'], 'openai-tools');
  const oa = new OpenAI({ apiKey: token, baseURL: `${t.httpUrl}/proxy/openai`, maxRetries: 0 });
  const stream = await oa.chat.completions.create({
    model: 'gpt-test', stream: true,
    messages: [{ role: 'user', content: `mail ${EMAIL}` }],
    tools: [{ type: 'function', function: { name: 'send_email', parameters: { type: 'object' } } }],
  });
  let args = '';
  let content = '';
  let finish: string | null = null;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    const d = c.choices[0]?.delta;
    content += d?.content ?? '';
    for (const call of d?.tool_calls ?? []) args += call.function?.arguments ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.ok(chunks >= ARGS.length, `chunk by chunk (${chunks})`);
  const input = JSON.parse(args) as Record<string, unknown>;
  assert.deepEqual(Object.keys(input), ['to', 'card', 'subject', 'copies']);
  assert.equal(input.subject, 'café "menu"');
  assert.doesNotMatch(args + content, LEAK);

  const { row } = await recorded('openai-tools');
  const answer = JSON.parse(row.llm_response!) as { api: string; content: { type: string; name?: string; text?: string; arguments?: unknown }[]; stop_reason: string };
  assert.equal(answer.api, 'openai');
  assert.equal(answer.stop_reason, 'tool_calls');
  assert.equal(answer.content[0]!.text, content);
  assert.deepEqual(answer.content[1], { type: 'tool_call', id: 'call_1', name: 'send_email', arguments: input });
  const ask = JSON.parse(row.llm_request!) as { tools: string[]; messages: { content: string }[] };
  assert.deepEqual(ask.tools, ['send_email']);
  assert.doesNotMatch(JSON.stringify(ask), LEAK);
  const events = JSON.parse(row.response_events!) as { data: string }[];
  assert.equal(events.at(-1)!.data, '[DONE]');
  assert.doesNotMatch(row.response_events!, LEAK);
});

test('a JSON (not streamed) answer with a tool call is assembled from what the client got', async () => {
  const token = await t.token(['ai'], 'claude-json');
  const sdk = new Anthropic({ apiKey: token, baseURL: `${t.httpUrl}/proxy/claude`, maxRetries: 0 });
  const msg = await sdk.messages.create({ model: 'claude-test', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
  assert.doesNotMatch(JSON.stringify(msg), LEAK);
  const { row } = await recorded('claude-json');
  assert.equal(row.response_events, null);
  const answer = JSON.parse(row.llm_response!) as { content: { type: string; arguments?: Record<string, unknown> }[]; stop_reason: string };
  assert.equal(answer.stop_reason, 'tool_use');
  assert.equal(answer.content[1]!.type, 'tool_call');
  assert.equal(answer.content[1]!.arguments!.subject, 'café "menu"');
  assert.doesNotMatch(row.llm_response!, LEAK);
});

test('with masking off the stream passes as it came, and the record still keeps its events and the assembled answer', async () => {
  const token = await t.token(['ai'], 'plain-stream');
  const sdk = new Anthropic({ apiKey: token, baseURL: `${t.httpUrl}/proxy/plain`, maxRetries: 0 });
  const final = await sdk.messages.stream({ model: 'claude-test', max_tokens: 32, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
  const tool = final.content.find((b) => b.type === 'tool_use');
  assert.deepEqual(tool?.type === 'tool_use' ? tool.input : null, JSON.parse(ARGS.join('')), 'nothing masked');
  const { row, masked } = await recorded('plain-stream');
  const events = JSON.parse(row.response_events!) as { event?: string }[];
  assert.equal(events[0]!.event, 'message_start');
  assert.equal(events.filter((e) => e.event === 'content_block_delta').length, ARGS.length + TEXT.length);
  const answer = JSON.parse(row.llm_response!) as { content: { type: string; arguments?: unknown }[] };
  assert.deepEqual(answer.content[1]!.arguments, JSON.parse(ARGS.join('')));
  assert.deepEqual(masked, []);
});

// ---- the same secret asked for in another form --------------------------------------------

const CSV = `id,email,card\n1,${EMAIL},4111 1111 1111 1111\n`;
const utf16 = (s: string, bom = false) => Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(s, 'utf16le')]);
/** a PNG: its signature alone is not UTF-8 */
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), Buffer.from('IHDR'), Buffer.alloc(64, 0xa7)]);

async function startFiles(): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.headers['x-api-key'] !== KEY) return void res.writeHead(401).end();
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (headers: Record<string, string>, ...parts: (string | Buffer)[]) => {
      res.writeHead(200, headers);
      // in parts, so the secret is cut across chunks
      let i = 0;
      const next = () => {
        if (i === parts.length) return void res.end();
        res.write(parts[i++]!);
        setTimeout(next, 5);
      };
      next();
    };
    const half = CSV.indexOf('split') + 2;
    switch (url.pathname) {
      case '/export':
        // what the target does with ?format / ?alt / Accept: the caller picks the form
        if (url.searchParams.get('format') === 'csv') return send({ 'content-type': 'text/csv' }, CSV.slice(0, half), CSV.slice(half));
        if (url.searchParams.get('alt') === 'media') return send({ 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(CSV)) }, CSV);
        if (req.headers.accept === 'application/octet-stream') return send({ 'content-type': 'application/octet-stream' }, CSV.slice(0, half), CSV.slice(half));
        if (url.searchParams.get('charset') === 'utf-16') return send({ 'content-type': 'text/csv; charset=utf-16' }, utf16(CSV));
        if (url.searchParams.get('encoding') === 'utf-16') return send({ 'content-type': 'application/octet-stream' }, utf16(`é${CSV}`));
        if (url.searchParams.get('encoding') === 'utf-16-bom') return send({}, utf16(CSV, true));
        if (url.searchParams.get('format') === 'tar') return send({ 'content-type': 'application/x-tar' }, Buffer.concat([Buffer.from('data.csv'), Buffer.alloc(92), Buffer.from('0000644\0'), Buffer.alloc(400), Buffer.from(CSV)]));
        if (url.searchParams.get('wide') === 'text') return send({ 'content-type': 'text/plain' }, utf16(CSV));
        if (url.searchParams.get('nul') === 'late') return send({ 'content-type': 'text/plain' }, 'ok so far\n', Buffer.concat([Buffer.from('\0'), utf16(CSV)]));
        // the same bytes in one write: the cut may not depend on how they fall into chunks
        if (url.searchParams.get('nul') === 'same') return send({ 'content-type': 'text/plain' }, Buffer.concat([Buffer.from('ok so far\n'), Buffer.from('\0'), utf16(CSV)]));
        if (url.searchParams.get('charset') === 'latin1') return send({ 'content-type': 'text/plain; charset=iso-8859-1' }, Buffer.from(`caf\u00e9 ${CSV}`, 'latin1'));
        // no content-type at all
        return send({}, CSV.slice(0, half), CSV.slice(half));
      case '/logo.png':
        return send({ 'content-type': 'image/png', 'content-length': String(PNG.length) }, PNG);
      case '/empty':
        res.writeHead(204);
        return void res.end();
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  filesUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return server;
}

/** A raw request through the gateway: status, headers and the body's bytes exactly as they came. */
function raw(token: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${t.httpUrl}/proxy/files${path}`, { headers: { 'x-api-key': token, ...headers } }, (res) => {
      const parts: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), aborted }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The secret in the body, read as UTF-8 and as UTF-16 (both byte orders). */
function leaks(body: Buffer): boolean {
  const swapped = Buffer.from(body);
  if (swapped.length % 2 === 0) swapped.swap16();
  return [body.toString('utf8'), body.toString('utf16le'), swapped.toString('utf16le'), body.toString('latin1').replace(/\0/g, '')].some((s) => LEAK.test(s));
}

test('the same rows asked for as csv, octet-stream, ?alt=media or with no content-type are masked as text: the secret never reaches the client', async () => {
  const token = await t.token(['ai'], 'exfil');
  for (const [path, headers] of [['/export?format=csv', {}], ['/export?alt=media', {}], ['/export', { accept: 'application/octet-stream' }], ['/export', {}]] as const) {
    const r = await raw(token, path, headers);
    assert.equal(r.status, 200, path);
    assert.equal(leaks(r.body), false, `${path} ${JSON.stringify(headers)}: ${r.body.toString()}`);
    assert.match(r.body.toString(), /^id,email,card\n1,.+,.+\n$/, path);
    assert.equal(r.headers['content-length'], undefined, `${path}: the length of a masked body is not the target's`);
  }
  // and with curl, as a person would
  const { stdout } = await promisify(execFile)('curl', ['-s', '-H', `x-api-key: ${token}`, '-H', 'Accept: application/octet-stream', `${t.httpUrl}/proxy/files/export`], { encoding: 'buffer' });
  assert.equal(leaks(stdout), false, stdout.toString());
  assert.match(stdout.toString(), /^id,email,card/);
});

test('text Warden cannot read is refused, never passed: UTF-16 (labelled, unlabelled with a non-ASCII start, with a BOM), an archive of text; NUL bytes later in a text body cut it', async () => {
  const token = await t.token(['ai'], 'exfil-wide');
  for (const path of ['/export?charset=utf-16', '/export?encoding=utf-16', '/export?encoding=utf-16-bom', '/export?format=tar']) {
    const r = await raw(token, path);
    assert.equal(r.status, 502, path);
    assert.match((JSON.parse(r.body.toString()) as { error: { message: string } }).error.message, /cannot be masked/, path);
    assert.equal(leaks(r.body), false, path);
  }
  for (const nul of ['late', 'same']) {
    const late = await raw(token, `/export?nul=${nul}`);
    assert.equal(leaks(late.body), false, late.body.toString('latin1'));
    assert.equal(late.aborted, true, `${nul}: the answer was cut at the NUL`);
    assert.equal(late.body.toString(), 'ok so far\n', `${nul}: what came before the NUL came, masked`);
  }
  // UTF-16 labelled text/plain (no charset): read as text from the first byte, cut at its first NUL
  const wide = await raw(token, '/export?wide=text');
  assert.equal(leaks(wide.body), false);
  assert.equal(wide.body.length, 0);
  assert.equal(wide.aborted, true);
  // curl says the transfer did not complete
  const curl = await promisify(execFile)('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `x-api-key: ${token}`, `${t.httpUrl}/proxy/files/export?encoding=utf-16`]);
  assert.equal(curl.stdout, '502');
  const events = await eventsOf(t, 'exfil-wide');
  const notes = events.filter((e) => e.type === 'result').map((e) => String((e.data.rows as Row[])[0]![1]));
  assert.ok(notes.slice(0, 4).every((n) => /refused: /.test(n)), JSON.stringify(notes));
  const cuts = events.filter((e) => e.type === 'result').map((e) => (e.data.error as { message: string } | undefined)?.message);
  assert.match(String(cuts[4]), /cut at a NUL byte/);
  assert.match(String(cuts[5]), /cut at a NUL byte/);
});

test('a body that proves binary from its first bytes passes byte for byte with its length; a one-byte charset is read byte for byte; an empty answer stays empty', async () => {
  const token = await t.token(['ai'], 'binary');
  const png = await raw(token, '/logo.png');
  assert.equal(png.status, 200);
  assert.deepEqual(png.body, PNG);
  assert.equal(png.headers['content-length'], String(PNG.length));
  const latin = await raw(token, '/export?charset=latin1');
  assert.equal(latin.body.subarray(0, 5).toString('latin1'), 'caf\u00e9 ');
  assert.equal(leaks(latin.body), false);
  const empty = await raw(token, '/empty');
  assert.equal(empty.status, 204);
  assert.equal(empty.body.length, 0);
  const events = await eventsOf(t, 'binary');
  const png1 = events.find((e) => e.type === 'result')!;
  assert.match(String((png1.data.rows as Row[])[0]![1]), /^\(\d+ bytes, binary, not masked\)$/);
});
