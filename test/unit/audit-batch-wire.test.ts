// Events travel to the writer thread as one NUL-joined string (src/audit/batch-wire.ts):
// every field comes back as it went, null and empty apart, and a batch holding a NUL
// (which append refuses, so only a bug could send one) travels as objects instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packItems, packJournaled, unpackItems, unpackJournaled } from '../../src/audit/batch-wire.ts';
import type { BatchItem } from '../../src/audit/chain.ts';

const items: BatchItem[] = [
  { type: 'command', sessionId: 's1', actor: 'alice', dataJson: '{"text":"select \'=\' || \\u0000"}' },
  { type: 'result', sessionId: null, actor: null, dataJson: '{}', ts: '2026-01-01T00:00:00.000Z' },
  { type: 'auth.ok', sessionId: '', actor: '', dataJson: '{"a":"=x"}' },
  { type: 'x', sessionId: '=starts with the marker', actor: 'ünï 😀', dataJson: '[]' },
];

test('a batch comes back field for field: null and empty strings apart, ts only where it was', () => {
  const packed = packItems(items);
  assert.equal(typeof packed, 'string');
  assert.deepEqual(unpackItems(packed), items);
  assert.deepEqual(unpackItems(packItems([])), []);
});

test('a NUL in data sends the batch as objects, unchanged', () => {
  const bad = [...items, { type: 'command', sessionId: 's', actor: 'a', dataJson: '{"a":"\u0000"}' }];
  const packed = packItems(bad);
  assert.ok(Array.isArray(packed));
  assert.deepEqual(unpackItems(packed), bad);
});

test('journaled records keep their bounds and their own events', () => {
  const j = { gen: 3, records: [{ start: 0, end: 10, items: items.slice(0, 1) }, { start: 10, end: 40, items: items.slice(1) }] };
  assert.deepEqual(unpackJournaled(packJournaled(j)), j);
});
