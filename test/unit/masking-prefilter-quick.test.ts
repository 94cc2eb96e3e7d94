// The prefilter's quick pass decides most values without the full pass; whenever it
// decides, its bits must be the full pass's bits (fewer would skip a detector that finds
// something). Checked on the corpus, look-alikes, random strings made of the characters
// its counts hinge on, and values at the edge of each count; then end to end: a secret
// next to text the quick pass alone would clear is still masked, as text and as bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_ENTITIES } from '../../src/masking/entities.ts';
import { UNDECIDED, quickTriggersOf, quickTriggersOfBytes } from '../../src/masking/prefilter-quick.ts';
import { fullTriggersOf, fullTriggersOfBytes } from '../../src/masking/prefilter.ts';
import { Rng, generate, lookalike } from '../../src/masking/corpus.ts';
import { compileMasker } from '../../src/masking/index.ts';
import { Findings } from '../../src/masking/findings.ts';
import { BUILTINS } from '../../src/masking/scanner.ts';
import type { PgColumn } from '../../src/protocols/postgres/value-types.ts';
import { encodeBackend } from '../../src/protocols/postgres/messages.ts';
import { pgResult } from '../helpers/pg-masking.ts';

/** The characters the quick pass counts or that end its runs, and some it does not care about. */
const ALPHABET = '0123456789..........------------@@::==bBaZ_ \t;,/éü😀\u00ff\u0100';

/** Both quick passes on `s` (bytes inside a larger buffer): UNDECIDED or the full pass's bits. */
function agrees(s: string): 'decided' | 'undecided' {
  const full = fullTriggersOf(s);
  const quick = quickTriggersOf(s);
  const b = Buffer.from(`é${s}x`); // the value does not start or end the buffer
  const quickBytes = quickTriggersOfBytes(b, 2, b.length - 1);
  assert.equal(fullTriggersOfBytes(b, 2, b.length - 1), full, JSON.stringify(s));
  if (quick !== UNDECIDED) assert.equal(quick, full, `string ${JSON.stringify(s)}`);
  if (quickBytes !== UNDECIDED) assert.equal(quickBytes, full, `bytes ${JSON.stringify(s)}`);
  assert.equal(quick === UNDECIDED, quickBytes === UNDECIDED, JSON.stringify(s));
  return quick === UNDECIDED ? 'undecided' : 'decided';
}

test('quick prefilter: when it decides, the full pass says the same', () => {
  const r = new Rng(3);
  const seen = { decided: 0, undecided: 0 };
  const texts: string[] = [];
  for (const e of BUILTIN_ENTITIES) for (let i = 0; i < 200; i++) texts.push(generate(e, r));
  for (let i = 0; i < 3000; i++) texts.push(lookalike(r));
  for (let i = 0; i < 40000; i++) texts.push(r.chars(ALPHABET, r.int(0, 30)));
  // a long value: the runs and counts are not reset between chunks of any size
  texts.push(`${'word '.repeat(5000)}1.2.3 4b`, `${'-'.repeat(9)}${'x '.repeat(3000)}-`);
  for (const s of texts) seen[agrees(s)]++;
  // Both outcomes are common, so the comparison above covers each.
  assert.ok(seen.decided > 10000 && seen.undecided > 10000, JSON.stringify(seen));
});

test('quick prefilter: each count at its edge, at the start, middle and end of a value', () => {
  const edges = [
    ['1234567', '12345678'], // 8 digits: phone, card, SSN, IBAN may need the full pass
    ['abc', 'a:c', 'a=c', ':', '='], // ':' or '=': keyword, URL password, IPv6
    ['A'.repeat(15), 'A'.repeat(16), `${'a'.repeat(8)}_-${'9'.repeat(6)}`], // a token-long run
    ['1.2.34', '1.2.3.4', '1.2.3.4.'], // IPv4: 4 digits and 3 dots
    ['1234 a', '1234 b', '1234 B', '123 b'], // DOB: 4 digits and a 'b'
    ['-'.repeat(9), '-'.repeat(10)], // PEM: 10 dashes
    ['a@b', '@'], // email
    ['é', '😀', '\u00ff'], // beyond ASCII
  ];
  let decided = 0;
  for (const group of edges) {
    for (const v of group) {
      for (const s of [v, `x ${v}`, `${v} x`, `ü ${v} 😀`, `${v}${v}`]) if (agrees(s) === 'decided') decided++;
    }
  }
  assert.ok(decided > 50, `only ${decided} decided`);
});

test('quick prefilter: the bits it decides on its own', () => {
  assert.equal(quickTriggersOf('Customer asked about the delivery window'), 0);
  assert.equal(quickTriggersOf('12345.67'), 0);
  assert.notEqual(quickTriggersOf('john.smith@example.com'), UNDECIDED);
  assert.equal(quickTriggersOf('call 415-555-2671'), UNDECIDED);
  assert.equal(quickTriggersOf('2024-06-25T20:05:02.559Z'), UNDECIDED);
  assert.equal(quickTriggersOf('password=x'), UNDECIDED);
  assert.equal(quickTriggersOf('ghp_abcdefghijklmnop'), UNDECIDED);
});

const TEXT = 25;

function foundByADetector(s: string): boolean {
  const f = new Findings();
  for (const d of BUILTINS) d.run(s, f);
  return f.n > 0;
}

/** Secrets next to text the quick pass would clear on its own, masked as text and as DataRow bytes. */
test('quick prefilter: a secret anywhere in a value is masked, as text and as bytes', () => {
  const m = compileMasker({ hmacKey: 'k'.repeat(32) });
  const cols: PgColumn[] = [{ name: 'c1', typeOid: TEXT }];
  const r = new Rng(5);
  let checked = 0;
  for (const e of BUILTIN_ENTITIES) {
    for (let i = 0; i < 20; i++) {
      const secret = generate(e, r);
      // Only a secret some detector finds on its own is a test (asked of the detectors
      // directly, every one of them, so no prefilter decides which).
      if (!foundByADetector(secret)) continue;
      for (const [before, after] of [['', ''], ['Müller asked ', ''], ['', ' see you Friday 😀'], ['notes: ü ', ' é end']]) {
        const text = `${before}${secret}${after}`;
        const masked = m.maskText(text);
        assert.ok(!masked.includes(secret), `${e}: ${JSON.stringify(text)} -> ${JSON.stringify(masked)}`);
        const row = encodeBackend({ type: 'DataRow', values: [Buffer.from(text)] });
        const out = pgResult(m, cols).maskDataRow(row);
        assert.ok(!out.includes(Buffer.from(secret)), `${e} as bytes: ${JSON.stringify(text)}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 500, `only ${checked} checked`);
});
