// The SSE masker on event streams written by hand: the kinds of delta that carry text (text,
// thinking, tool arguments), and a held tail that must come out in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';
import { createSseMasker } from '../../src/protocols/http/sse-deltas.ts';

const masker = compileMasker({});
const ev = (name: string | null, data: unknown) => `${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

/** Runs events through the masker cut into 7-character chunks, and parses what came out. */
function run(input: string): Record<string, unknown>[] {
  const sm = createSseMasker(masker);
  let out = '';
  for (let i = 0; i < input.length; i += 7) out += sm.push(input.slice(i, i + 7));
  out += sm.end();
  assert.equal(sm.masked, true);
  return out
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.split('\n').find((l) => l.startsWith('data: '))!.slice(6))
    .filter((d) => d !== '[DONE]')
    .map((d) => JSON.parse(d) as Record<string, unknown>);
}

test('Anthropic: thinking text cut across deltas is masked as one text, what was held goes out as a thinking_delta before the block stops', () => {
  const delta = (index: number, d: Record<string, unknown>) => ev('content_block_delta', { type: 'content_block_delta', index, delta: d });
  const input =
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } }) +
    delta(0, { type: 'thinking_delta', thinking: 'the user is grace.sp' }) +
    delta(0, { type: 'thinking_delta', thinking: 'lit@example.org, so' }) +
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }) +
    ev('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 't', name: 'f', input: {} } }) +
    delta(1, { type: 'input_json_delta', partial_json: '{"card": "4111 1111' }) +
    delta(1, { type: 'input_json_delta', partial_json: ' 1111 1111"}' }) +
    ev('content_block_stop', { type: 'content_block_stop', index: 1 });
  const events = run(input);
  const deltas = events.filter((e) => e.type === 'content_block_delta') as { index: number; delta: Record<string, string> }[];
  const thinking = deltas.filter((d) => d.index === 0);
  assert.ok(thinking.every((d) => d.delta.type === 'thinking_delta'));
  const thought = thinking.map((d) => d.delta.thinking).join('');
  assert.match(thought, /^the user is .+, so$/);
  assert.doesNotMatch(thought, /grace|split|example/);
  const args = deltas.filter((d) => d.index === 1);
  assert.ok(args.every((d) => d.delta.type === 'input_json_delta'));
  const parsed = JSON.parse(args.map((d) => d.delta.partial_json).join('')) as { card: string };
  assert.doesNotMatch(parsed.card, /4111|1111 1111/);
  // every delta of a block comes before its stop
  const stops = events.map((e, i) => (e.type === 'content_block_stop' ? i : -1)).filter((i) => i >= 0);
  assert.ok(events.every((e, i) => e.type !== 'content_block_delta' || i < stops[(e as { index: number }).index]!));
});

test('OpenAI: a finishing chunk that carries text too gets what was held after its own text, not before', () => {
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ev(null, { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
  const input =
    chunk({ role: 'assistant', content: 'write to grace.sp' }, null) +
    chunk({ content: 'lit@example.org' }, null) +
    chunk({ content: ' today.\nbye' }, 'stop') +
    ev(null, '[DONE]');
  const chunks = run(input) as { choices: { delta: { content?: string }; finish_reason: string | null }[] }[];
  const text = chunks.map((c) => c.choices[0]!.delta.content ?? '').join('');
  assert.match(text, /^write to .+ today\.\nbye$/);
  assert.doesNotMatch(text, /grace|split|example/);
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
});

test('OpenAI: tool call arguments of two calls, each cut across chunks, are masked per call and stay valid JSON', () => {
  const call = (index: number, args: string, extra: Record<string, unknown> = {}) =>
    ev(null, { choices: [{ index: 0, delta: { tool_calls: [{ index, ...extra, function: { ...(extra.id ? { name: `f${index}` } : {}), arguments: args } }] }, finish_reason: null }] });
  const input =
    call(0, '', { id: 'a', type: 'function' }) + call(0, '{"to": "grace.sp') + call(0, 'lit@example.org"}') +
    call(1, '', { id: 'b', type: 'function' }) + call(1, '{"to": ["ada@exam') + call(1, 'ple.org"]}') +
    ev(null, { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }) + ev(null, '[DONE]');
  const chunks = run(input) as { choices: { delta: { tool_calls?: { index: number; function: { arguments: string } }[] } }[] }[];
  const args = ['', ''];
  for (const c of chunks) for (const t of c.choices[0]!.delta.tool_calls ?? []) args[t.index] += t.function.arguments;
  const [a, b] = args.map((x) => JSON.parse(x) as { to: unknown });
  assert.equal(typeof a!.to, 'string');
  assert.ok(Array.isArray(b!.to));
  assert.doesNotMatch(args.join(''), /grace|split|ada@|example/);
});
