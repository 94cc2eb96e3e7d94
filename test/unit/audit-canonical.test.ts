// The canonical encoding is a format other programs must reproduce byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalJson, Encoded, eventCanonical, eventHash, GENESIS_HASH } from '../../src/audit/canonical.ts';

test('sorts keys at every depth and writes no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
});

test('sorts by code unit, as JSON.stringify escapes strings', () => {
  assert.equal(canonicalJson({ é: 1, Z: 2, a: 3, '\n': 'é"\\' }), '{"\\n":"é\\"\\\\","Z":2,"a":3,"é":1}');
});

test('drops undefined members, nulls undefined array items, uses toJSON', () => {
  assert.equal(canonicalJson({ a: undefined, b: [undefined, null], c: new Date(0) }), '{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}');
});

test('rejects what JSON would silently change', () => {
  assert.throws(() => canonicalJson({ n: NaN }), /finite.*|NaN/);
  assert.throws(() => canonicalJson({ deep: [1, Infinity] }), /\$\.deep\[1\]/);
  assert.throws(() => canonicalJson({ big: 1n }), /bigint/);
});

test('eventCanonical is canonicalJson of the whole event', () => {
  const e = { seq: 7, ts: '2025-01-01T00:00:00.000Z', type: 'command', sessionId: 's"1', actor: null, data: { text: 'select 1', p: [1.5, null] } };
  assert.equal(eventCanonical({ ...e, dataJson: canonicalJson(e.data) }), canonicalJson(e));
});

test('hash = sha256hex(prevHash + "\\n" + canonical); the first prevHash is 64 zeros', () => {
  assert.equal(GENESIS_HASH, '0'.repeat(64));
  const parts = { seq: 1, ts: 't', type: 'x', sessionId: null, actor: 'a', dataJson: '{}' };
  const expected = createHash('sha256').update(`${GENESIS_HASH}\n{"actor":"a","data":{},"seq":1,"sessionId":null,"ts":"t","type":"x"}`).digest('hex');
  assert.equal(eventHash(GENESIS_HASH, parts), expected);
  assert.notEqual(eventHash(GENESIS_HASH, { ...parts, seq: 2 }), expected);
});

test('a value encoded once is embedded with the same bytes as encoding it in place', () => {
  const facts = { statements: [{ tables: ['t'], kind: 'select', rule: undefined }], b: 1 };
  const once = new Encoded(facts);
  assert.equal(canonicalJson({ z: 1, facts: once, a: [once] }), canonicalJson({ z: 1, facts, a: [facts] }));
  assert.equal(JSON.stringify({ facts: once }), JSON.stringify({ facts }));
});

test('the same bytes whether keys come in order or not, integer-like keys and toJSON deep inside included', () => {
  // the reference: JSON.stringify over copies whose keys were inserted sorted (integer-like keys aside, see below)
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    return v;
  };
  const cases: unknown[] = [
    { a: 1, b: 'x', c: [true, null, 2.5] },
    { c: 1, b: { z: [], y: {} }, a: -0 },
    { commandId: 's:1', decision: 'allow', text: 'SELECT 1', via: 'simple' },
    { text: 'SELECT 1', commandId: 's:1', decision: 'allow' },
    { rows: [['1', null]], at: [new Date(0), { b: 1, a: 2 }] },
  ];
  for (const c of cases) assert.equal(canonicalJson(c), JSON.stringify(sorted(c)));
  // Object.keys puts integer-like keys first in numeric order ("2" before "10"); canonical order is by code unit
  assert.equal(canonicalJson({ 2: 'b', 10: 'a', x: 1 }), '{"10":"a","2":"b","x":1}');
  assert.throws(() => canonicalJson({ ok: { fine: [1, { n: -Infinity }] } }), /\$\.ok\.fine\[1\]\.n/);
});
