// The masker of JSON text streamed in fragments (an LLM's tool-call arguments): whatever the
// cut (inside a string, inside an escape, between the halves of a surrogate pair, inside a
// number), the fragments it gives out concatenate to valid JSON of the same shape with the
// secrets replaced inside string values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';
import { createJsonFragmentMasker } from '../../src/protocols/http/json-fragments.ts';

const masker = compileMasker({});
// Written by hand so escapes appear as a model may send them: \u00e9, \", \\, \/, a surrogate pair.
const SOURCE = String.raw`{"to": "grace.split@example.org", "note": "caf\u00e9 \"quoted\" a\\b \/ \ud83d\ude00 déjà", "items": [{"card": "4111 1111 1111 1111"}, 42, -3.5e2, true, null], "raw": 4111111111111111, "password": "hunter2-zebra", "mail\u0040": "x\u0040y"}`;
const LEAKS = /grace|split@|example\.org|4111|1111 1111|hunter2/;

function run(fragments: string[]): string {
  const jm = createJsonFragmentMasker(masker, 96);
  let out = '';
  for (const f of fragments) out += jm.push(f);
  out += jm.end();
  assert.equal(jm.masked, true);
  return out;
}

function checkShape(out: string, cut: string): void {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(out) as Record<string, unknown>;
  } catch (e) {
    assert.fail(`not JSON at ${cut}: ${(e as Error).message}: ${out}`);
  }
  assert.doesNotMatch(out, LEAKS, cut);
  assert.deepEqual(Object.keys(v), ['to', 'note', 'items', 'raw', 'password', 'mail@'], cut);
  assert.equal(v.note, 'café "quoted" a\\b / 😀 déjà', cut);
  const items = v.items as unknown[];
  assert.deepEqual(items.slice(1), [42, -350, true, null], cut);
  assert.equal(typeof (items[0] as { card: unknown }).card, 'string', cut);
  assert.notEqual(v.to, 'grace.split@example.org', cut);
  assert.equal(typeof v.raw, 'string', `a card sent as a number comes back as its masked text (${cut})`);
  assert.notEqual(v.password, 'hunter2-zebra', cut);
  assert.equal(v['mail@'], 'x@y', cut);
}

test('one fragment: the secrets are masked inside their strings, the rest is byte for byte what came', () => {
  const out = run([SOURCE]);
  checkShape(out, 'whole');
  assert.match(out, /"note": "caf\\u00e9|"note": "café/);
});

test('cut in two at every position (inside strings, escapes, surrogate pairs, numbers, keys): valid JSON, same shape, nothing leaks', () => {
  for (let i = 0; i <= SOURCE.length; i++) checkShape(run([SOURCE.slice(0, i), SOURCE.slice(i)]), `cut at ${i}`);
});

test('cut in three at many position pairs, and one character at a time', () => {
  for (let i = 1; i < SOURCE.length; i += 3) {
    for (let j = i + 1; j < SOURCE.length; j += 7) checkShape(run([SOURCE.slice(0, i), SOURCE.slice(i, j), SOURCE.slice(j)]), `cut at ${i},${j}`);
  }
  checkShape(run([...SOURCE]), 'one character at a time');
});

test('held back: at most the masker\'s tail; prose goes out before the string ends', () => {
  const jm = createJsonFragmentMasker(masker, 96);
  const prose = 'the migration finished over the weekend without any incident, and the numbers look fine. '.repeat(3);
  const first = jm.push(`{"text": "${prose}`);
  assert.ok(first.length >= `{"text": "`.length + prose.length - 96, `released ${first.length} of ${prose.length + 10}`);
  const rest = jm.push('write to grace.sp') + jm.push('lit@example.org"}') + jm.end();
  const v = JSON.parse(first + rest) as { text: string };
  assert.doesNotMatch(v.text, /grace|split/);
  assert.ok(v.text.startsWith(prose));
});

test('fragments that stop mid-string (an answer cut at max_tokens) end as they were cut, what was held masked', () => {
  const jm = createJsonFragmentMasker(masker, 96);
  const out = jm.push('{"to": "grace.sp') + jm.push('lit@example.org and mo') + jm.end();
  assert.doesNotMatch(out, LEAKS);
  assert.match(out, /^\{"to": ".+ and mo$/);
});

test('a number too long to be one is replaced, not held without bound', () => {
  const jm = createJsonFragmentMasker(masker, 96);
  const out = jm.push(`{"n": ${'7'.repeat(400)}`) + jm.push(`${'7'.repeat(400)}, "m": 1}`) + jm.end();
  assert.deepEqual(JSON.parse(out), { n: '[NUMBER]', m: 1 });
});

test('nesting deeper than the masker tracks is still masked and still valid JSON', () => {
  const deep = `${'['.repeat(1000)}{"to": "grace.split@example.org"}${']'.repeat(1000)}`;
  const out = run([deep.slice(0, 1010), deep.slice(1010)]);
  assert.doesNotMatch(out, LEAKS);
  let v: unknown = JSON.parse(out);
  for (let i = 0; i < 1000; i++) v = (v as unknown[])[0];
  assert.equal(typeof (v as { to: string }).to, 'string');
});
