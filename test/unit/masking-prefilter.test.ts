// The prefilter may only skip a detector when that detector could not find anything:
// every trigger is a necessary condition. Checked by running every detector on every
// text regardless of the triggers, over the labelled corpus, its look-alikes and random
// strings built from the characters the detectors care about. Also: the string and byte
// twins of the prefilter agree, and a DataRow masks as its values do one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_ENTITIES } from '../../src/masking/entities.ts';
import { Findings } from '../../src/masking/findings.ts';
import { BUILTINS } from '../../src/masking/scanner.ts';
import { T_KEYWORD, T_NON_ASCII, triggersOf, triggersOfBytes } from '../../src/masking/prefilter.ts';
import { Rng, generate, lookalike, positive } from '../../src/masking/corpus.ts';
import { compileMasker } from '../../src/masking/index.ts';
import type { PgColumn } from '../../src/protocols/postgres/value-types.ts';
import { pgResult } from '../helpers/pg-masking.ts';

/** Characters that make or break the shapes the detectors look for. */
const ALPHABET = '0123456789012345678901234567890123456789     ..--()+:::=@_/AKIAZTDEGBbxyzaeio,;"\'\tü';

function fuzz(r: Rng): string {
  const parts: string[] = [];
  for (let k = r.int(1, 4); k > 0; k--) {
    const roll = r.int(0, 3);
    if (roll === 0) parts.push(r.chars(ALPHABET, r.int(1, 40)));
    else if (roll === 1) parts.push(generate(r.pick(BUILTIN_ENTITIES), r));
    else if (roll === 2) parts.push(lookalike(r));
    else parts.push(r.pick(['password=', 'token: ', 'PGPASSWORD=', 'dbPassword: ', 'app.jwtSigningKey = ', '"clientSecret": "', 'Bearer ', 'dob ', 'born on ', 'ip ', 'version ', 'card ', 'order #', 'call ', 'postgres://u:', '-----BEGIN RSA PRIVATE KEY-----\n', '\n-----END RSA PRIVATE KEY-----']));
  }
  return parts.join(r.pick(['', ' ', '-', '.', ', ', ':', '(', ')', '+']));
}

function* texts(): Generator<string> {
  const r = new Rng(7);
  for (const e of BUILTIN_ENTITIES) for (let i = 0; i < 400; i++) yield positive(e, r).text;
  for (let i = 0; i < 5000; i++) yield lookalike(r);
  for (let i = 0; i < 30000; i++) yield fuzz(r);
}

test('prefilter: a detector that finds something always has its trigger', () => {
  const f = new Findings();
  let checked = 0;
  for (const s of texts()) {
    const t = triggersOf(s);
    for (const d of BUILTINS) {
      f.reset();
      d.run(s, f);
      if (f.n === 0 || spaceSeparatedShortSecret(d.trigger, s)) continue;
      checked++;
      assert.ok(t & d.trigger, `${d.entities.join('/')} found ${JSON.stringify(s.slice(f.start[0], f.end[0]))} in ${JSON.stringify(s)} without its trigger`);
    }
  }
  assert.ok(checked > 5000, `only ${checked} findings checked`);
});

/**
 * By design the prefilter sends `Bearer <value>` / `token <value>` (no ':' or '=') to the
 * keyword detector only when the value is token-long; a short one is left alone.
 */
function spaceSeparatedShortSecret(trigger: number, s: string): boolean {
  return trigger === T_KEYWORD && !/[:=]/.test(s) && !/[A-Za-z0-9_-]{16}/.test(s);
}

test('prefilter: string and byte twins agree', () => {
  for (const s of texts()) {
    const b = Buffer.from(`xx${s}yy`);
    const want = triggersOf(s);
    assert.equal(triggersOfBytes(b, 2, b.length - 2), want, JSON.stringify(s));
    assert.equal((want & T_NON_ASCII) !== 0, /[\u0080-\uffff]/.test(s), JSON.stringify(s));
  }
});

test('maskDataRow: same bytes as masking each value as text', () => {
  const m = compileMasker({ hmacKey: 'k'.repeat(32), styles: { email: 'partial', card: 'hash' } });
  const cols: PgColumn[] = Array.from({ length: 5 }, (_, i) => ({ name: `c${i}`, typeOid: 25 }));
  const r = new Rng(11);
  let changed = 0;
  for (let n = 0; n < 3000; n++) {
    const values = cols.map(() => (r.int(0, 5) === 0 ? null : r.int(0, 1) ? fuzz(r) : r.pick(['', 'plain text', 'Jürgen Müller', 'x', 'ümit@example.com 😀 ruft 415-555-2671 an', '\ud800 lone 4111 1111 1111 1111 😀'])));
    const rs = pgResult(m, cols);
    const want = rs.maskRow(values);
    const row = dataRow(values);
    const got = rs.maskDataRow(row);
    assert.deepEqual(got, dataRow(want), JSON.stringify(values));
    if (got !== row) changed++;
    else assert.equal(want, values);
  }
  assert.ok(changed > 100);
});

function dataRow(values: (string | null)[]): Buffer {
  const parts = values.map((v) => (v === null ? null : Buffer.from(v)));
  const size = 7 + parts.reduce((n, p) => n + 4 + (p?.length ?? 0), 0);
  const out = Buffer.alloc(size);
  out[0] = 0x44;
  out.writeInt32BE(size - 1, 1);
  out.writeInt16BE(parts.length, 5);
  let w = 7;
  for (const p of parts) {
    out.writeInt32BE(p === null ? -1 : p.length, w);
    w += 4;
    if (p) w += p.copy(out, w);
  }
  return out;
}
