// Recall and precision of the default detectors over a generated, labelled corpus:
// thousands of valid values per type (real checksums) in realistic surroundings, plus
// look-alikes that must stay untouched. Prints the per-type table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_ENTITIES, type BuiltinEntity } from '../../src/masking/entities.ts';
import { Scanner } from '../../src/masking/scanner.ts';
import { triggersOf } from '../../src/masking/prefilter.ts';
import { Rng, lookalike, positive, type Span } from '../../src/masking/corpus.ts';

const PER_TYPE = 3000;
const LOOKALIKES = 30000;
const CHECKSUMMED: BuiltinEntity[] = ['card', 'iban'];

interface Count {
  tp: number;
  fn: number;
  fp: number;
}

function evaluate(seed: number) {
  const r = new Rng(seed);
  const scanner = new Scanner(new Set(BUILTIN_ENTITIES));
  const counts = new Map<BuiltinEntity, Count>(BUILTIN_ENTITIES.map((e) => [e, { tp: 0, fn: 0, fp: 0 }]));
  const misses: string[] = [];
  const falsePositives: string[] = [];

  function score(text: string, spans: Span[]): void {
    const kept = scanner.scan(text, triggersOf(text)) ?? [];
    const f = scanner.findings;
    const found = kept.map((i) => ({ start: f.start[i], end: f.end[i], entity: f.entity[i] as BuiltinEntity }));
    for (const s of spans) {
      // Recall: the planted value is covered by a finding of its type.
      const hit = found.some((x) => x.entity === s.entity && x.start <= s.start && x.end >= s.end);
      counts.get(s.entity)![hit ? 'tp' : 'fn']++;
      if (!hit && misses.length < 15) misses.push(`${s.entity}: ${JSON.stringify(text)}`);
    }
    for (const x of found) {
      // Precision: every finding lies on a planted value of the same type.
      const ok = spans.some((s) => s.entity === x.entity && x.start < s.end && s.start < x.end);
      if (!ok) {
        counts.get(x.entity)!.fp++;
        if (falsePositives.length < 15) falsePositives.push(`${x.entity}: ${JSON.stringify(text.slice(x.start, x.end))} in ${JSON.stringify(text)}`);
      }
    }
  }

  for (const e of BUILTIN_ENTITIES) {
    for (let i = 0; i < PER_TYPE; i++) {
      const s = positive(e, r);
      score(s.text, s.spans);
    }
  }
  for (let i = 0; i < LOOKALIKES; i++) score(lookalike(r), []);
  return { counts, misses, falsePositives };
}

test('corpus: recall and precision per type', () => {
  const { counts, misses, falsePositives } = evaluate(20261125);
  const rows: string[] = [];
  let tp = 0, fp = 0;
  for (const [e, c] of counts) {
    tp += c.tp;
    fp += c.fp;
    const recall = c.tp / (c.tp + c.fn);
    const precision = c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp);
    rows.push(`${e.padEnd(15)} recall ${(recall * 100).toFixed(2).padStart(6)}%  precision ${(precision * 100).toFixed(2).padStart(6)}%  (tp ${c.tp}, fn ${c.fn}, fp ${c.fp})`);
  }
  const overall = tp / (tp + fp);
  console.log(`masking corpus: ${PER_TYPE} per type, ${LOOKALIKES} look-alikes\n${rows.join('\n')}\noverall precision ${(overall * 100).toFixed(2)}%`);
  if (misses.length) console.log(`first misses:\n  ${misses.join('\n  ')}`);
  if (falsePositives.length) console.log(`first false positives:\n  ${falsePositives.join('\n  ')}`);

  for (const e of CHECKSUMMED) {
    const c = counts.get(e)!;
    assert.ok(c.tp / (c.tp + c.fn) >= 0.995, `${e} recall ${c.tp}/${c.tp + c.fn} < 99.5%`);
  }
  for (const [e, c] of counts) assert.ok(c.tp / (c.tp + c.fn) >= 0.97, `${e} recall ${c.tp}/${c.tp + c.fn} < 97%`);
  assert.ok(overall >= 0.99, `overall precision ${(overall * 100).toFixed(2)}% < 99%`);
});

test('corpus: look-alikes alone produce (almost) no findings', () => {
  const r = new Rng(7);
  const scanner = new Scanner(new Set(BUILTIN_ENTITIES));
  let flagged = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const t = lookalike(r);
    if (scanner.scan(t, triggersOf(t)) !== null) flagged++;
  }
  assert.ok(flagged / n <= 0.005, `${flagged} of ${n} look-alikes flagged`);
});
