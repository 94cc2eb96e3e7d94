// The pieces of LLM budgets without a gateway: the `budget` key and its mistakes named by
// key path, which API a path speaks, and the meter over answers split anywhere in the bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, type Transform } from 'node:stream';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { llmApiOf } from '../../src/protocols/http/llm/provider.ts';
import { UsageMeter } from '../../src/protocols/http/llm/usage-meter.ts';
import { parseUsageQuery, UsageQueryError } from '../../src/usage/query.ts';

const conn = (budget: unknown) => ({ name: 'claude', type: 'http', url: 'https://api.anthropic.com', budget });

test('a budget with its defaults; mistakes name their key', () => {
  const [c] = parseConfig({ connections: [conn({ tokensPerDay: 200000, perIdentityTokensPerDay: 50000 })] }).connections;
  assert.ok(c!.type === 'http');
  assert.deepEqual(c.budget, { tokensPerDay: 200000, perIdentityTokensPerDay: 50000, defaultMaxTokens: 4096, maxRequestBytes: 4 << 20 });
  for (const [budget, problem] of [
    [{ tokensPerDay: -5 }, /connections\.0\.budget\.tokensPerDay/],
    [{ tokensPerDay: 10, defaultMaxTokens: 1.5 }, /connections\.0\.budget\.defaultMaxTokens/],
    [{ tokensPerDay: 10, perDay: 3 }, /connections\.0\.budget: .*perDay/],
    [{ defaultMaxTokens: 100 }, /connections\.0\.budget: set tokensPerDay, perIdentityTokensPerDay or both/],
  ] as const) {
    try {
      parseConfig({ connections: [conn(budget)] });
      assert.fail(`expected a ConfigError for ${JSON.stringify(budget)}`);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.problems.join('\n'), problem);
    }
  }
});

test('the API is known by the path on the target, POST only', () => {
  assert.equal(llmApiOf('POST', '/v1/messages'), 'anthropic');
  assert.equal(llmApiOf('POST', '/v1/chat/completions'), 'openai');
  assert.equal(llmApiOf('POST', '/openai/v1/chat/completions/'), 'openai');
  assert.equal(llmApiOf('POST', '/v1/responses'), 'openai-responses');
  assert.equal(llmApiOf('POST', '/v1/messages/batches'), null);
  assert.equal(llmApiOf('POST', '/v1/messages/count_tokens'), null);
  assert.equal(llmApiOf('GET', '/v1/messages'), null);
  assert.equal(llmApiOf('POST', '/V1/Messages'), 'anthropic');
});

async function through(tap: Transform, bytes: Buffer, cut = 7): Promise<string> {
  // the answer arrives in pieces cut anywhere, even inside a character
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += cut) pieces.push(bytes.subarray(i, i + cut));
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from(pieces).pipe(tap).on('data', (c: Buffer | string) => out.push(Buffer.from(c))).on('end', resolve).on('error', reject);
  });
  return Buffer.concat(out).toString('utf8');
}

const sse = (events: [string, unknown][]) => Buffer.from(events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join(''));
const delta = (text: string): [string, unknown] => ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }];

test('an Anthropic stream split anywhere: events go out whole and unchanged; usage from message_start and the last message_delta', async () => {
  const bytes = sse([
    ['message_start', { type: 'message_start', message: { usage: { input_tokens: 40, cache_read_input_tokens: 2, output_tokens: 1 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    delta('Grüße, '),
    delta('世界'),
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } }],
    ['message_stop', { type: 'message_stop' }],
  ]);
  const m = new UsageMeter('anthropic', { maxOutput: 100, inputEstimate: 10 }, () => assert.fail('not cut'));
  assert.equal(await through(m.tap(200, 'text/event-stream'), bytes), bytes.toString('utf8'));
  assert.deepEqual(m.used(), { input: 42, output: 7 });
  assert.equal(m.summary().outputEstimated, false);
});

test('a stream is cut before the delta that crosses its allowance: the block closed, an error event, the abort asked for', async () => {
  const bytes = sse([
    ['message_start', { type: 'message_start', message: { usage: { input_tokens: 5, output_tokens: 0 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ...Array.from({ length: 10 }, () => delta('abcd')),
  ]);
  let aborted = 0;
  const m = new UsageMeter('anthropic', { maxOutput: 3, inputEstimate: 10 }, () => aborted++);
  const out = await through(m.tap(200, 'text/event-stream'), bytes, 13);
  assert.equal(out.match(/"text_delta"/g)?.length, 3);
  assert.match(out, /event: content_block_stop\ndata: \{"type":"content_block_stop","index":0\}\n\nevent: error\ndata: .*"code":"budget_exceeded"/);
  assert.equal(aborted, 1);
  assert.deepEqual(m.used(), { input: 5, output: 3 });
  assert.match(m.cut!, /allowance of 3 tokens/);
});

test('a real input larger than held asks the ledger for more, and is cut when it is refused', async () => {
  const bytes = sse([['message_start', { type: 'message_start', message: { usage: { input_tokens: 500, output_tokens: 0 } } }], delta('hi')]);
  const asked: number[] = [];
  const m = new UsageMeter('anthropic', { maxOutput: 100, inputEstimate: 120, grow: async (n) => (asked.push(n), false) }, () => {});
  const out = await through(m.tap(200, 'text/event-stream'), bytes);
  assert.deepEqual(asked, [380]);
  assert.doesNotMatch(out, /message_start/);
  assert.match(out, /input \(500 tokens\) is larger than reserved/);
});

test('an OpenAI Responses stream: deltas counted as they pass, the usage of response.completed; cut past max_output_tokens', async () => {
  const ev = (o: Record<string, unknown>) => `event: ${String(o.type)}\ndata: ${JSON.stringify(o)}\n\n`;
  const text = (delta: string) => ev({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta });
  const bytes = Buffer.from(
    ev({ type: 'response.created', response: { id: 'resp_1', usage: null } }) +
      text('Hello ') +
      text('world') +
      ev({ type: 'response.completed', response: { id: 'resp_1', usage: { input_tokens: 21, output_tokens: 2, total_tokens: 23 } } }),
  );
  const whole = new UsageMeter('openai-responses', { maxOutput: 100, inputEstimate: 50 }, () => {});
  assert.equal(await through(whole.tap(200, 'text/event-stream'), bytes), bytes.toString('utf8'));
  assert.deepEqual(whole.used(), { input: 21, output: 2 });
  const long = Buffer.from(Array.from({ length: 30 }, () => text('tok ')).join(''));
  const cut = new UsageMeter('openai-responses', { maxOutput: 5, inputEstimate: 50 }, () => {});
  const out = await through(cut.tap(200, 'text/event-stream'), long);
  assert.equal(out.match(/output_text\.delta/g)!.length / 2, 5);
  assert.match(out, /event: error\ndata: .*output allowance of 5 tokens/);
});

test('a target that never ends an event is cut once it passes 8 MiB (bounded memory), and counts its whole allowance', async () => {
  let aborted = false;
  const m = new UsageMeter('anthropic', { maxOutput: 64, inputEstimate: 10 }, () => (aborted = true));
  const out = await through(m.tap(200, 'text/event-stream'), Buffer.from(`data: ${'x'.repeat(9 << 20)}`), 1 << 20);
  assert.ok(aborted);
  assert.ok(out.length < 1000, `${out.length} bytes went out`);
  assert.match(out, /without ending an event/);
  assert.deepEqual(m.used(), { input: 10, output: 64 });
});

test('JSON answers: usage of either API; a 2xx answer without readable usage counts its whole allowance; an error answer counts nothing', async () => {
  const json = async (api: 'anthropic' | 'openai' | 'openai-responses', status: number, body: string) => {
    const m = new UsageMeter(api, { maxOutput: 64, inputEstimate: 30 }, () => {});
    assert.equal(await through(m.tap(status, 'application/json'), Buffer.from(body)), body);
    return m.used();
  };
  assert.deepEqual(await json('anthropic', 200, JSON.stringify({ usage: { input_tokens: 11, output_tokens: 22 } })), { input: 11, output: 22 });
  assert.deepEqual(await json('openai', 200, JSON.stringify({ usage: { prompt_tokens: 9, completion_tokens: 4 } })), { input: 9, output: 4 });
  assert.deepEqual(await json('openai-responses', 200, JSON.stringify({ object: 'response', usage: { input_tokens: 7, output_tokens: 3 } })), { input: 7, output: 3 });
  assert.deepEqual(await json('openai', 200, '\x1f\x8b not json'), { input: 30, output: 64 });
  assert.deepEqual(await json('anthropic', 500, JSON.stringify({ type: 'error', error: { type: 'api_error' } })), { input: 0, output: 0 });
});

test('usage filters: days, spans back from today, and mistakes', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  assert.deepEqual(parseUsageQuery({ since: '7d', connection: 'claude' }, now), { since: '2026-11-26', connection: 'claude' });
  assert.deepEqual(parseUsageQuery({ since: '1d' }, now), { since: '2026-12-02' });
  assert.throws(() => parseUsageQuery({ since: 'yesterday' }, now), UsageQueryError);
  assert.throws(() => parseUsageQuery({ since: '2026-12-02', until: '2026-12-01' }, now), /since \(2026-12-02\) is after until/);
});
