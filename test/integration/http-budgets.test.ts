// LLM usage and budgets through the gateway, driven by the official Anthropic and OpenAI SDKs
// against a local server speaking both APIs. Ground truth: the ledger in the store, what the
// target received (`seen`) and whether it saw the client go away (`aborted`), and the record.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { resultsOf } from '../helpers/records.ts';
import { run } from '../helpers/clients.ts';
import type { UsageRow } from '../../src/usage/ledger.ts';

const KEY = 'sk-upstream-budgets-0123456789';
let t: TestGateway;
let fast: FakeLlm;
let slow: FakeLlm;
let long: FakeLlm;
let dying: FakeLlm;

before(async () => {
  fast = await startFakeLlm({ apiKey: KEY, text: ['Hello ', 'there ', 'friend.'] });
  slow = await startFakeLlm({ apiKey: KEY, text: Array.from({ length: 50 }, () => 'w '), eventDelayMs: 20 });
  long = await startFakeLlm({ apiKey: KEY, text: Array.from({ length: 200 }, () => 'tok '), eventDelayMs: 5 });
  dying = await startFakeLlm({ apiKey: KEY, text: Array.from({ length: 20 }, () => 'w '), eventDelayMs: 5, dieAfterEvents: 6 });
  const http = (name: string, url: string, budget?: Record<string, unknown>, credential = { header: 'x-api-key', value: KEY }) => ({ name, type: 'http', url, credential, access: { groups: ['ai'] }, ...(budget ? { budget } : {}) });
  t = await startTestGateway({
    connections: [
      http('counted', fast.url),
      http('counted-openai', fast.url, undefined, { header: 'authorization', value: KEY, scheme: 'Bearer' } as never),
      http('capped', slow.url, { tokensPerDay: 300 }),
      http('per-id', slow.url, { perIdentityTokensPerDay: 250 }),
      http('cut', long.url, { tokensPerDay: 100_000, defaultMaxTokens: 20 }),
      http('cut-openai', long.url, { tokensPerDay: 100_000, defaultMaxTokens: 20 }, { header: 'authorization', value: KEY, scheme: 'Bearer' } as never),
      http('slow', slow.url, { tokensPerDay: 100_000 }),
      http('dying', dying.url, { tokensPerDay: 100_000 }),
      http('gone', 'http://127.0.0.1:1', { tokensPerDay: 100_000 }),
      http('strict', fast.url, { tokensPerDay: 100_000, maxRequestBytes: 1024 }),
      // a rule over a body field reads the first judgeBodyBytes; the budget reads the rest
      {
        ...http('ruled', fast.url, { tokensPerDay: 100_000, maxRequestBytes: 16_384 }),
        judgeBodyBytes: 1024,
        // a body over judgeBodyBytes is opaque to the rules; here it is let through, and the budget still reads it whole
        onUnknown: 'allow',
        rules: [{ name: 'no-forbidden-models', match: { types: ['http'], body: { model: ['forbidden-*'] } }, action: 'block' }],
      },
    ],
  });
});
after(async () => {
  await t?.close();
  for (const f of [fast, slow, long, dying]) await f?.close();
});

const anthropic = (token: string, connection: string) => new Anthropic({ apiKey: token, baseURL: `${t.httpUrl}/proxy/${connection}`, maxRetries: 0 });
const openai = (token: string, connection: string) => new OpenAI({ apiKey: token, baseURL: `${t.httpUrl}/proxy/${connection}/v1`, maxRetries: 0 });
const ask = (max_tokens: number) => ({ model: 'claude-test', max_tokens, messages: [{ role: 'user' as const, content: 'count for me' }] });

const ledger = (connection: string) => t.gw.services.usage.list({ connection });
const byName = (rows: UsageRow[], name: string) => rows.find((r) => r.identityName === name);

/** Wait until no request on the connection holds tokens and `requests` were settled. */
async function settled(connection: string, requests: number): Promise<UsageRow[]> {
  for (let i = 0; i < 500; i++) {
    const rows = await ledger(connection);
    if (rows.every((r) => r.reserved === 0) && rows.reduce((n, r) => n + r.requests, 0) >= requests) return rows;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`connection ${connection} did not settle: ${JSON.stringify(await ledger(connection))}`);
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok(), what);
}

test('usage is counted per identity from JSON and streamed answers of both APIs, and kept in the record', async () => {
  const a = await t.token(['ai'], 'usage-anthropic');
  const o = await t.token(['ai'], 'usage-openai');
  await anthropic(a, 'counted').messages.create(ask(64));
  const final = await anthropic(a, 'counted').messages.stream(ask(64)).finalMessage();
  assert.equal(final.usage.output_tokens, 3);
  const oc = openai(o, 'counted-openai');
  await oc.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
  const stream = await oc.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
  for await (const _ of stream);
  await settled('counted', 2);
  await settled('counted-openai', 2);
  const ra = byName(await ledger('counted'), 'usage-anthropic')!;
  assert.deepEqual([ra.inputTokens, ra.outputTokens, ra.requests], [24, 6, 2]);
  const ro = byName(await ledger('counted-openai'), 'usage-openai')!;
  assert.deepEqual([ro.inputTokens, ro.outputTokens, ro.requests], [18, 6, 2]);
  // the record of each request says what it used, and that the numbers are the provider's
  const usage = (await resultsOf(t, 'usage-anthropic')).map((e) => e.data.usage as Record<string, unknown>);
  assert.equal(usage.length, 2);
  for (const u of usage) assert.deepEqual([u.api, u.inputTokens, u.outputTokens, u.inputEstimated, u.outputEstimated, u.cut], ['anthropic', 12, 3, false, false, null]);
});

test('an OpenAI stream that does not ask for usage is counted from its deltas as they pass', async () => {
  const token = await t.token(['ai'], 'usage-estimated');
  const earlier = (await ledger('counted-openai')).reduce((n, r) => n + r.requests, 0);
  const stream = await openai(token, 'counted-openai').chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  assert.equal(text, 'Hello there friend.');
  await settled('counted-openai', earlier + 1);
  const row = byName(await ledger('counted-openai'), 'usage-estimated')!;
  // at least a token a delta; the input is the estimate from the body
  assert.ok(row.outputTokens >= 3, JSON.stringify(row));
  assert.ok(row.inputTokens > 0);
  const [u] = (await resultsOf(t, 'usage-estimated')).map((e) => e.data.usage as Record<string, unknown>);
  assert.equal(u!.outputEstimated, true);
  assert.equal(u!.inputEstimated, true);
});

test('the Responses API is metered too: usage from response.completed; a stream past max_output_tokens is cut', async () => {
  const token = await t.token(['ai'], 'responses-agent');
  const oc = openai(token, 'counted-openai');
  const earlier = (await ledger('counted-openai')).reduce((n, r) => n + r.requests, 0);
  const r = await oc.responses.create({ model: 'gpt-test', input: 'hi' });
  assert.equal(r.output_text, 'Hello there friend.');
  const stream = await oc.responses.create({ model: 'gpt-test', input: 'hi', stream: true });
  for await (const _ of stream);
  const row = byName(await settled('counted-openai', earlier + 2), 'responses-agent')!;
  assert.deepEqual([row.inputTokens, row.outputTokens, row.requests], [18, 6, 2]);
  // the long target streams 200 one-token deltas past the 10 allowed
  const before = long.seen.length;
  const cut = await openai(token, 'cut-openai').responses.create({ model: 'gpt-test', input: 'go on', max_output_tokens: 10, stream: true });
  let deltas = 0;
  const err = await (async () => {
    for await (const e of cut) if (e.type === 'response.output_text.delta') deltas++;
  })().catch((e: unknown) => e);
  assert.ok(err instanceof OpenAI.APIError, String(err));
  assert.ok(deltas > 0 && deltas <= 10, `${deltas} deltas`);
  await until('the target sees the request abort', () => long.seen[before]!.aborted);
});

test('concurrent streams never overshoot a connection budget: each holds its worst case first; the refused get a 429 naming the budget and never reach the target', async () => {
  const token = await t.token(['ai'], 'racer');
  const before = slow.seen.length;
  // each holds ~34 (its body) + 60 (max_tokens); the target answers 12 in + 50 out, so all
  // eight counted after the fact would spend 496 of the 300
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => anthropic(token, 'capped').messages.stream(ask(60)).finalMessage()));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.ok(ok.length >= 1 && ok.length <= 3, `${ok.length} got through`);
  for (const r of refused) {
    const e = r.reason as InstanceType<typeof Anthropic.APIError>;
    assert.equal(e.status, 429);
    const error = (e.error as { error: { code: string; message: string; budget: Record<string, unknown> } }).error;
    assert.equal(error.code, 'budget_exceeded');
    assert.match(error.message, /budget of connection "capped" \(budget\.tokensPerDay\) is 300 tokens a day/);
    assert.equal(error.budget.scope, 'connection');
    assert.equal(error.budget.limit, 300);
    assert.equal(e.headers?.get('x-should-retry'), 'false');
  }
  assert.equal(slow.seen.length - before, ok.length, 'refused requests never reached the target');
  const rows = await settled('capped', ok.length);
  const total = rows.reduce((n, r) => n + r.totalTokens, 0);
  assert.equal(total, ok.length * 62);
  assert.ok(total <= 300);
  assert.equal(byName(rows, 'racer')!.refused, refused.length);
  const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
  assert.match(metrics, new RegExp(`warden_llm_budget_refusals_total\\{connection="capped",scope="connection"\\} ${refused.length}\n`));
  assert.match(metrics, new RegExp(`warden_llm_tokens_total\\{connection="capped",kind="output"\\} ${ok.length * 50}\n`));
});

test('a per-identity budget refuses that identity while another goes on', async () => {
  const a = await t.token(['ai'], 'greedy');
  const b = await t.token(['ai'], 'modest');
  const before = slow.seen.length;
  // 34 + 100 held each: two of greedy's do not fit 250, modest's own does
  const first = anthropic(a, 'per-id').messages.stream(ask(100)).finalMessage();
  await until('the first request is held', () => slow.seen.length > before);
  const second = await anthropic(a, 'per-id').messages.create(ask(100)).catch((e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
  const other = anthropic(b, 'per-id').messages.stream(ask(100)).finalMessage();
  assert.ok(second instanceof Anthropic.APIError);
  assert.equal(second.status, 429);
  const error = (second.error as { error: { message: string; budget: Record<string, unknown> } }).error;
  assert.equal(error.budget.scope, 'identity');
  assert.equal(error.budget.limit, 250);
  assert.match(error.message, /your budget on connection "per-id" \(budget\.perIdentityTokensPerDay\)/);
  await first;
  await other;
  const rows = await settled('per-id', 2);
  assert.deepEqual([byName(rows, 'greedy')!.requests, byName(rows, 'greedy')!.refused, byName(rows, 'modest')!.requests], [1, 1, 1]);
});

test('an OpenAI stream with no max_tokens is cut at budget.defaultMaxTokens: the SDK raises the error event, the target is aborted', async () => {
  const token = await t.token(['ai'], 'cut-openai-agent');
  const before = long.seen.length;
  const stream = await openai(token, 'cut-openai').chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'go on forever' }], stream: true });
  let text = '';
  let deltas = 0;
  const err = await (async () => {
    for await (const c of stream) {
      const d = c.choices[0]?.delta.content;
      if (d) {
        deltas++;
        text += d;
      }
    }
  })().catch((e: unknown) => e);
  assert.ok(err instanceof OpenAI.APIError, String(err));
  assert.match(err.message, /cut: the answer reached its output allowance of 20 tokens/);
  // 200 deltas of one token were coming; at most 20 tokens of them got out
  assert.ok(deltas > 0 && text.length <= 20 * 'tok '.length, `${deltas} deltas, ${JSON.stringify(text)}`);
  const seen = long.seen[before]!;
  await until('the target sees the request abort', () => seen.aborted);
  const rows = await settled('cut-openai', 1);
  assert.ok(byName(rows, 'cut-openai-agent')!.outputTokens <= 20);
  const [u] = (await resultsOf(t, 'cut-openai-agent')).map((e) => e.data.usage as Record<string, unknown>);
  assert.match(String(u!.cut), /output allowance of 20 tokens/);
});

test('an Anthropic stream past its max_tokens (a provider overrunning it) is cut there', async () => {
  const token = await t.token(['ai'], 'cut-anthropic-agent');
  const before = long.seen.length;
  const stream = anthropic(token, 'cut').messages.stream(ask(10));
  let text = '';
  stream.on('text', (d) => (text += d));
  const err = await stream.finalMessage().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof Anthropic.APIError, String(err));
  assert.match(err.message, /output allowance of 10 tokens/);
  assert.ok(text.length > 0 && text.length <= 10 * 'tok '.length, JSON.stringify(text));
  await until('the target sees the request abort', () => long.seen[before]!.aborted);
  const rows = await settled('cut', 1);
  const row = byName(rows, 'cut-anthropic-agent')!;
  assert.equal(row.inputTokens, 12);
  assert.ok(row.outputTokens <= 10);
});

test('a client that goes away releases its hold; what was counted until then is settled', async () => {
  const token = await t.token(['ai'], 'quitter');
  const before = slow.seen.length;
  const ac = new AbortController();
  const stream = anthropic(token, 'slow').messages.stream(ask(60), { signal: ac.signal });
  let deltas = 0;
  stream.on('text', () => {
    if (++deltas === 5) ac.abort();
  });
  await stream.finalMessage().catch(() => {});
  await until('the target sees the abort', () => slow.seen[before]?.aborted === true);
  const rows = await settled('slow', 1);
  const row = byName(rows, 'quitter')!;
  assert.equal(row.inputTokens, 12);
  assert.ok(row.outputTokens >= 5 && row.outputTokens < 50, JSON.stringify(row));
});

test('a target that fails mid-stream, or cannot be reached, releases the hold', async () => {
  const token = await t.token(['ai'], 'unlucky');
  const err = await anthropic(token, 'dying').messages.stream(ask(60)).finalMessage().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof Error);
  let rows = await settled('dying', 1);
  // message_start, the block's start, then four one-token deltas before the line dropped
  assert.deepEqual([byName(rows, 'unlucky')!.inputTokens, byName(rows, 'unlucky')!.outputTokens], [12, 4]);
  const gone = await anthropic(token, 'gone').messages.create(ask(60)).catch((e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
  assert.ok(gone instanceof Anthropic.APIError);
  assert.equal(gone.status, 502);
  rows = await settled('gone', 1);
  assert.deepEqual([byName(rows, 'unlucky')!.reserved, byName(rows, 'unlucky')!.totalTokens], [0, 0]);
});

test('a budgeted connection refuses a body it cannot read: compressed, not JSON, too big; none reaches the target', async () => {
  const token = await t.token(['ai'], 'odd-bodies');
  const before = fast.seen.length;
  const post = (body: Buffer | string, headers: Record<string, string>) => fetch(`${t.httpUrl}/proxy/strict/v1/messages`, { method: 'POST', headers: { 'x-api-key': token, ...headers }, body });
  const json = JSON.stringify(ask(10));
  const gz = await post(gzipSync(json), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(gz.status, 415);
  assert.match(((await gz.json()) as { error: { message: string } }).error.message, /encoded with "gzip"/);
  assert.equal((await post(json, { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await post('{"model": ', { 'content-type': 'application/json' })).status, 400);
  const big = await post(JSON.stringify({ ...ask(10), pad: 'x'.repeat(4096) }), { 'content-type': 'application/json' });
  assert.equal(big.status, 413);
  assert.match(((await big.json()) as { error: { message: string } }).error.message, /budget\.maxRequestBytes \(1024 bytes\)/);
  // a request whose worst case alone is over the day's budget
  const huge = await post(JSON.stringify(ask(200_000)), { 'content-type': 'application/json' });
  assert.equal(huge.status, 429);
  assert.equal(fast.seen.length, before);
  // a key twice: which max_tokens would the target take?
  const twice = await post('{"model":"m","max_tokens":10,"messages":[],"max_tokens":900000}', { 'content-type': 'application/json' });
  assert.equal(twice.status, 400);
  assert.match(((await twice.json()) as { error: { message: string } }).error.message, /the key "max_tokens" appears twice/);
  assert.equal(fast.seen.length, before);
  // a readable one goes through, its body unchanged
  assert.equal((await post(json, { 'content-type': 'application/json' })).status, 200);
  assert.equal(fast.seen.at(-1)!.body, json);
});

test('on a connection whose rules read the body, the budget reads the rest after what judging read; the bytes reach the target unchanged', async () => {
  const token = await t.token(['ai'], 'ruled-agent');
  const post = (body: string) => fetch(`${t.httpUrl}/proxy/ruled/v1/messages`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body });
  const big = JSON.stringify({ ...ask(10), messages: [{ role: 'user', content: `long question ${'é'.repeat(3000)}` }] });
  const before = fast.seen.length;
  const ok = await post(big);
  assert.equal(ok.status, 200);
  assert.equal(fast.seen.at(-1)!.body, big);
  const blocked = await post(JSON.stringify({ ...ask(10), model: 'forbidden-model' }));
  assert.equal(blocked.status, 403);
  assert.equal(fast.seen.length, before + 1);
  const rows = await settled('ruled', 1);
  // the held input was a third of the body's bytes, the provider's 12 settled
  assert.deepEqual([byName(rows, 'ruled-agent')!.inputTokens, byName(rows, 'ruled-agent')!.requests], [12, 1]);
});

test('GET /api/v1/usage: auditors see everyone, others only their own; `warden usage` prints the same', async () => {
  const mine = await t.token(['ai'], 'usage-api-mine');
  const theirs = await t.token(['ai'], 'usage-api-theirs');
  const earlier = (await ledger('counted')).reduce((n, r) => n + r.requests, 0);
  await anthropic(mine, 'counted').messages.create(ask(64));
  await anthropic(theirs, 'counted').messages.create(ask(64));
  await anthropic(theirs, 'counted').messages.create(ask(64));
  await settled('counted', earlier + 3);
  const get = async (token: string, q = '') => {
    const r = await fetch(`${t.httpUrl}/api/v1/usage${q}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (await r.json()) as { rows: UsageRow[]; totals: Record<string, number>; error?: string } };
  };
  const all = await get(t.adminToken, '?connection=counted&since=1d');
  assert.equal(all.status, 200);
  const names = all.body.rows.map((r) => r.identityName);
  assert.ok(names.includes('usage-api-mine') && names.includes('usage-api-theirs'), JSON.stringify(names));
  assert.equal(all.body.totals.totalTokens, all.body.rows.reduce((n, r) => n + r.totalTokens, 0));
  assert.deepEqual([byName(all.body.rows, 'usage-api-theirs')!.totalTokens, byName(all.body.rows, 'usage-api-theirs')!.requests], [30, 2]);
  // asking for someone else's usage gives one's own
  const own = await get(mine, '?identity=usage-api-theirs');
  assert.deepEqual(own.body.rows.map((r) => [r.identityName, r.inputTokens, r.outputTokens]), [['usage-api-mine', 12, 3]]);
  assert.equal((await get(mine, '?since=yesterday')).status, 400);
  assert.equal((await get(t.adminToken, '?since=2999-01-01')).body.rows.length, 0);
  assert.equal((await fetch(`${t.httpUrl}/api/v1/usage`)).status, 401);
  const doc = (await (await fetch(`${t.httpUrl}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
  assert.ok('/api/v1/usage' in doc.paths);

  const bin = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
  const env = { WARDEN_TOKEN: t.adminToken, WARDEN_GATEWAY: t.httpUrl };
  const json = await run(process.execPath, [bin, 'usage', '--json', '--connection', 'counted'], { env });
  assert.equal(json.code, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as UsageRow[];
  assert.equal(byName(rows, 'usage-api-mine')!.totalTokens, 15);
  const text = await run(process.execPath, [bin, 'usage', '--since', '7d', '--identity', 'usage-api-theirs'], { env });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^DAY\s+CONNECTION\s+IDENTITYNAME\s+INPUTTOKENS/);
  assert.match(text.stdout, /counted\s+usage-api-theirs\s+24\s+6\s+30\s+2/);
  // locally, on the data dir (--config), as the other commands
  const cfg = join(t.dataDir, '..', 'usage-cli.yaml');
  writeFileSync(cfg, `gateway:\n  dataDir: ${t.dataDir}\n  logLevel: warn\n`);
  const local = await run(process.execPath, [bin, 'usage', '--json', '--config', cfg, '--connection', 'counted'], { env: { WARDEN_GATEWAY: '', WARDEN_TOKEN: '' } });
  assert.equal(local.code, 0, local.stderr);
  assert.equal(byName(JSON.parse(local.stdout) as UsageRow[], 'usage-api-theirs')!.totalTokens, 30);
  // the caller's own token shows the caller's own usage only
  const self = await run(process.execPath, [bin, 'usage', '--json'], { env: { ...env, WARDEN_TOKEN: mine } });
  assert.deepEqual((JSON.parse(self.stdout) as UsageRow[]).map((r) => r.identityName), ['usage-api-mine']);
});
