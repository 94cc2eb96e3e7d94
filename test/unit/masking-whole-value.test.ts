// The shortcut for a value that is one email, phone number or card number and nothing
// else: isWholeEmail / isWholePhone / isWholeCard may say yes only when the detector itself would report
// exactly one finding covering the whole value. Checked against the detectors on the
// corpus, its look-alikes and fuzzed variants; and the masked bytes of a DataRow value
// (which takes the shortcut) against the masked text of the same value (which does not),
// in every style. A shortcut that no longer fires on the corpus fails too: it would be
// dead code with a cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Findings } from '../../src/masking/findings.ts';
import { detectEmail, isWholeEmail } from '../../src/masking/detectors/email.ts';
import { detectCard, detectPhone, isWholeCard, isWholePhone } from '../../src/masking/detectors/numbers.ts';
import { Rng, generate, lookalike } from '../../src/masking/corpus.ts';
import { compileMasker } from '../../src/masking/index.ts';
import { pgResult } from '../helpers/pg-masking.ts';

/** Edits that break or bend the shapes: separators, parentheses, dots, '@', letters, digits. */
const EDITS = '0123456789 .-()+@_%aZé.-';

function mutate(r: Rng, s: string): string {
  let t = s;
  for (let k = r.int(1, 3); k > 0; k--) {
    const at = r.int(0, t.length);
    const roll = r.int(0, 3);
    if (roll === 0) t = t.slice(0, at) + t.slice(at + 1); // delete
    else if (roll === 1) t = t.slice(0, at) + r.pick([...EDITS]) + t.slice(at); // insert
    else if (roll === 2) t = t.slice(0, at) + r.pick([...EDITS]) + t.slice(at + 1); // replace
    else t = r.pick(['', ' ', 'x', '.', '-', '1', '+']) + t + r.pick(['', ' ', 'x', '.', '-', '1', ')']);
  }
  return t;
}

function* candidates(kind: 'email' | 'phone', r: Rng): Generator<{ text: string; generated: boolean }> {
  for (let i = 0; i < 4000; i++) yield { text: generate(kind, r), generated: true };
  for (let i = 0; i < 3000; i++) yield { text: lookalike(r), generated: false };
  for (let i = 0; i < 30000; i++) yield { text: mutate(r, generate(kind, r)), generated: false };
  // local parts around the 64-character limit, domains ending in a file extension
  for (let i = 0; i < 2000; i++) yield { text: `${r.chars('abcxyz.0_', r.int(58, 70))}@${r.pick(['x', 'icon', 'a.b'])}.${r.pick(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'css', 'js', 'ts', 'map', 'json', 'txt', 'html', 'io', 'info', 'com', 'shop', 'c'])}`, generated: false };
  for (let i = 0; i < 200; i++) yield { text: `ann@${'d'.repeat(r.int(240, 256))}.com`, generated: false };
  // digit groups in every arrangement, for the phone shapes and their near misses
  const shapes = ['+d d d', '+d d d d d d d d', '+dddd d d d d d d', '+d (d) d d d d d d d', '0d d d d d d', 'd-d-d', 'd.d.d', '(d) d-d', '1-d-d-d', '0dd-ddd-dddd', '0dd ddd dddd', '+dd (ddd) ddd-dddd', '(ddd)ddd-dddd', '0d dd dd dd dd', '0ddd dddd dddd', 'ddd ddd dddd', '00dd dd dddd dddd'];
  for (let i = 0; i < 20000; i++) yield { text: mutate(r, r.pick(shapes).replace(/d+/g, (g) => r.digits(Math.max(1, g.length + r.int(-1, 2))))), generated: false };
}

/** Every character below 128: what the shortcut is for (a value beyond ASCII is scanned as text). */
const isAscii = (s: string): boolean => Buffer.byteLength(s) === s.length;

/** The detector a shortcut stands in for finds exactly one `kind`, the whole text. */
function assertFindsWhole(detect: (text: string, f: Findings) => void, f: Findings, text: string, kind: string): void {
  f.reset();
  detect(text, f);
  assert.equal(f.n, 1, `${JSON.stringify(text)}: ${f.n} findings`);
  assert.deepEqual([f.start[0], f.end[0], f.entity[0]], [0, text.length, kind], JSON.stringify(text));
}

for (const kind of ['email', 'phone'] as const) {
  const whole = kind === 'email' ? isWholeEmail : isWholePhone;
  const detect = kind === 'email' ? detectEmail : detectPhone;

  test(`isWhole${kind === 'email' ? 'Email' : 'Phone'}: yes only when ${kind === 'email' ? 'detectEmail' : 'detectPhone'} finds exactly the whole value`, () => {
    const r = new Rng(kind === 'email' ? 11 : 12);
    const f = new Findings();
    let yes = 0, generated = 0, generatedYes = 0, checked = 0;
    for (const { text, generated: gen } of candidates(kind, r)) {
      if (!isAscii(text)) continue;
      checked++;
      const b = Buffer.from(text, 'latin1');
      const ok = whole(b, 0, b.length);
      // The same answer inside a larger buffer, whatever bytes lie around it.
      const padded = Buffer.concat([Buffer.from([r.int(0, 255), 40, 46]), b, Buffer.from([40, 46, 32, r.int(0, 255)])]);
      assert.equal(whole(padded, 3, 3 + b.length), ok, JSON.stringify(text));
      if (gen) {
        generated++;
        if (ok) generatedYes++;
      }
      if (!ok) continue;
      yes++;
      assertFindsWhole(detect, f, text, kind);
    }
    assert.ok(checked > 50000, `${checked} checked`);
    assert.ok(yes > 3000, `${yes} shortcuts`);
    // The shapes the corpus generates (most real columns look like these) take the shortcut.
    assert.ok(generatedYes / generated > 0.9, `${generatedYes} of ${generated} generated ${kind}s take the shortcut`);
  });
}

test('isWholeCard: yes only when detectCard finds exactly the whole value', () => {
  const r = new Rng(14);
  const f = new Findings();
  const texts: { text: string; generated: boolean }[] = [];
  for (let i = 0; i < 4000; i++) texts.push({ text: generate('card', r), generated: true });
  for (let i = 0; i < 3000; i++) texts.push({ text: lookalike(r), generated: false });
  for (let i = 0; i < 30000; i++) texts.push({ text: mutate(r, generate('card', r)), generated: false });
  // 11 to 21 digits behind each issuer prefix, Luhn-valid, in groups of four or none:
  // the lengths around a card's 13 to 19
  for (let n = 11; n <= 21; n++) {
    for (const prefix of ['4', '51', '50', '34', '37', '6011', '3530', '2221', '2200', '1', '62', '9']) {
      for (const sep of ['', ' ', '-']) texts.push({ text: luhnFixed(prefix + r.digits(n - prefix.length)).replace(/\d{4}(?=\d)/g, `$&${sep}`), generated: false });
    }
  }
  // one digit repeated (a test pattern, not a card), in card lengths and groupings
  for (let d = 0; d <= 9; d++) for (let n = 12; n <= 20; n++) for (const sep of ['', ' ', '-']) texts.push({ text: String(d).repeat(n).replace(/\d{4}(?=\d)/g, `$&${sep}`), generated: false });
  // 11 to 21 digits in groups, with one, two or no separators between them and around
  // them; the last digit makes each Luhn-valid half the time, so the other checks decide
  for (let i = 0; i < 20000; i++) {
    let t = r.pick(['', '', '', ' ', '-', '0']);
    for (let g = r.int(1, 6); g > 0; g--) t += r.digits(r.int(1, 7)) + (g > 1 ? r.pick([' ', '-', '', ' ', '-', '  ', ' -', '.']) : '');
    t += r.pick(['', '', '', ' ', '-', 'x', '.5']);
    texts.push({ text: r.int(0, 1) && /^\d+$/.test(t.slice(-1)) ? luhnFixed(t) : t, generated: false });
  }
  let yes = 0, generated = 0, generatedYes = 0;
  for (const { text, generated: gen } of texts) {
    if (!isAscii(text)) continue;
    const ok = isWholeCard(text);
    if (gen) {
      generated++;
      if (ok) generatedYes++;
    }
    if (!ok) continue;
    yes++;
    assertFindsWhole(detectCard, f, text, 'card');
  }
  // Beyond the generated cards, the shapes above take it too (their checks are exercised).
  assert.ok(yes - generatedYes > 300, `${yes - generatedYes} shortcuts beyond the generated cards`);
  assert.ok(generatedYes / generated > 0.9, `${generatedYes} of ${generated} generated cards take the shortcut`);
});

/** `t` with its last digit replaced so that its digits pass Luhn. */
function luhnFixed(t: string): string {
  for (let d = 0; d <= 9; d++) {
    const u = t.slice(0, -1) + d;
    let sum = 0, double = false;
    for (let i = u.length - 1; i >= 0; i--) {
      const c = u.charCodeAt(i) - 48;
      if (c < 0 || c > 9) continue;
      const v = double ? (c * 2 > 9 ? c * 2 - 9 : c * 2) : c;
      sum += v;
      double = !double;
    }
    if (sum % 10 === 0) return u;
  }
  return t;
}

test('a DataRow value that is one email, phone or card masks as its text does, in every style', () => {
  const r = new Rng(13);
  const values: string[] = [];
  for (let i = 0; i < 3000; i++) values.push(generate('email', r), generate('phone', r), generate('card', r), mutate(r, generate(r.pick(['email', 'phone', 'card'] as const), r)));
  for (const style of ['redact', 'partial', 'hash'] as const) {
    const m = compileMasker({ hmacKey: 'k'.repeat(32), style });
    const rs = pgResult(m, [{ name: 'c1', typeOid: 25 }]);
    for (const v of values) {
      const bytes = rs.maskBytes(0, Buffer.from(v));
      const expected = m.maskText(v);
      assert.equal(bytes === undefined ? v : bytes === null ? null : bytes.toString(), expected, `${style}: ${JSON.stringify(v)}`);
    }
    assert.deepEqual(rs.maskedColumns(), ['c1']);
  }
});
