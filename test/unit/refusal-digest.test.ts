// The refusal digest: flood reasons are always summed, other refusals are audited on their
// own within a budget per interval, summaries are per source address with a bounded map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefusalDigest, type RefusalSummary } from '../../src/gateway/refusals.ts';

function digest(opts: { individualPerInterval?: number; maxSources?: number } = {}) {
  const out: RefusalSummary[] = [];
  const d = new RefusalDigest({ intervalMs: 3_600_000, emit: (s) => out.push(s), ...opts });
  return { d, out };
}

test('flood reasons are summed; others are individual until the budget is spent', () => {
  const { d, out } = digest({ individualPerInterval: 2 });
  const r = (reason: string, source = '10.0.0.1') => d.note({ source, frontDoor: 'postgres', reason });
  assert.equal(r('rate_limited'), false);
  assert.equal(r('too_many_handshakes'), false);
  assert.equal(r('invalid_credential'), true);
  assert.equal(r('expired'), true);
  assert.equal(r('invalid_credential'), false, 'budget spent');
  d.close();
  assert.deepEqual(out.map((s) => [s.clientAddr, s.count, s.reasons]), [['10.0.0.1', 3, { rate_limited: 1, too_many_handshakes: 1, invalid_credential: 1 }]]);
  // A new interval has a new budget.
  assert.equal(r('invalid_credential'), true);
});

test('a spray of addresses shares one summary beyond maxSources', () => {
  const { d, out } = digest({ maxSources: 3 });
  for (let i = 0; i < 10; i++) d.note({ source: `10.0.0.${i}`, frontDoor: 'http', reason: 'rate_limited' });
  d.flush();
  assert.equal(out.length, 4);
  assert.deepEqual(out.find((s) => s.clientAddr === '*')?.count, 7);
  d.flush();
  assert.equal(out.length, 4, 'an empty interval writes nothing');
  d.close();
});
