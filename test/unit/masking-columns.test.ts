// Column rules and the per-result-set masker: rule precedence, typed replacements that
// stay valid for the column type, binary values, whole DataRow messages, maskedColumns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';
import type { PgColumn } from '../../src/protocols/postgres/value-types.ts';
import { encodeBackend, decodeBackend } from '../../src/protocols/postgres/messages.ts';
import { pgResult } from '../helpers/pg-masking.ts';

const TEXT = 25, INT4 = 23, INT8 = 20, DATE = 1082, UUID = 2950, JSONB = 3802, BOOL = 16, INET = 869;
const KEY = 'k'.repeat(32);

// DataRow frames through the Postgres engine's own codec.
const dataRow = (values: (string | null)[]): Buffer => encodeBackend({ type: 'DataRow', values: values.map((v) => (v === null ? null : Buffer.from(v))) });
function readRow(b: Buffer): (string | null)[] {
  assert.equal(b.readInt32BE(1), b.length - 1, 'length field');
  const m = decodeBackend(b[0]!, b, 5, b.length);
  assert.equal(m.type, 'DataRow');
  return m.type === 'DataRow' ? m.values.map((v) => (v === null ? null : v.toString('utf8'))) : [];
}

test('column rules: default names, globs, table.column, skip, first match wins', () => {
  const m = compileMasker({ hmacKey: KEY, columns: [{ match: 'users.notes', entity: 'secret' }, { match: 'public_*', action: 'skip' }, { match: 'api_*', style: 'partial' }] });
  const cols: PgColumn[] = [
    { name: 'password', typeOid: TEXT },
    { name: 'github_token', typeOid: TEXT },
    { name: 'notes', table: 'users', typeOid: TEXT },
    { name: 'notes', typeOid: TEXT },
    { name: 'public_email', typeOid: TEXT },
    { name: 'api_key', typeOid: TEXT },
    { name: 'secretary', typeOid: TEXT },
  ];
  const rs = pgResult(m, cols);
  const row = ['hunter2', 'abc', 'private', 'x@example.com', 'y@example.com', 'Zx81kP0qLm2nR7', 'Mrs Jones'];
  assert.deepEqual(rs.maskRow(row), ['[PASSWORD]', '[SECRET]', '[SECRET]', '[EMAIL]', 'y@example.com', '****', 'Mrs Jones']);
  assert.deepEqual(rs.maskedColumns(), ['password', 'github_token', 'notes', 'notes', 'api_key']);
  assert.deepEqual(rs.ruleColumns(), ['password', 'github_token', 'notes', 'api_key']);
});

test('typed columns: only a card number is found in a number, and a masked one stays valid for its type', () => {
  const nul = compileMasker({ hmacKey: KEY, columns: [{ match: 'salary' }] });
  const rs = pgResult(nul, [{ name: 'id', typeOid: INT8 }, { name: 'ssn', typeOid: INT8 }, { name: 'salary', typeOid: INT4 }, { name: 'dob', typeOid: DATE }, { name: 'ok', typeOid: BOOL }]);
  // an int8 can hold a card number (issue 13, class 5): it is replaced whole; an id is not
  assert.deepEqual(rs.maskRow(['4111111111111111', '123456789', '90000', '1985-03-12', 't']), [null, null, null, null, 't']);
  assert.deepEqual(rs.maskRow(['4111111111111112', '123456789', '90000', '1985-03-12', 't']), ['4111111111111112', null, null, null, 't']);

  const ph = compileMasker({ hmacKey: KEY, typedReplacement: 'placeholder', columns: [{ match: 'token_id', entity: 'secret' }] });
  const rs2 = pgResult(ph, [{ name: 'ssn', typeOid: INT8 }, { name: 'dob', typeOid: DATE }, { name: 'token_id', typeOid: UUID }]);
  assert.deepEqual(rs2.maskRow(['123456789', '1985-03-12', '550e8400-e29b-41d4-a716-446655440000']), ['0', '1900-01-01', '00000000-0000-0000-0000-000000000000']);
});

test('hash style on typed columns: stable, in range, and a valid UUID', () => {
  const m = compileMasker({ hmacKey: KEY, style: 'hash', columns: [{ match: 'customer_ref', entity: 'secret' }, { match: 'n4', entity: 'secret' }] });
  const rs = pgResult(m, [{ name: 'customer_ref', typeOid: UUID }, { name: 'n4', typeOid: INT4 }, { name: 'email', typeOid: TEXT }]);
  const a = rs.maskRow(['550e8400-e29b-41d4-a716-446655440000', '77', 'A@Example.com']);
  const b = rs.maskRow(['550e8400-e29b-41d4-a716-446655440000', '77', 'a@example.com']);
  assert.deepEqual(a, b, 'same input, same hash (emails compared case-insensitively)');
  assert.match(a[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(Number(a[1]) >= 0 && Number(a[1]) < 2 ** 31 && Number.isInteger(Number(a[1])));
  assert.match(a[2]!, /^\[EMAIL:[0-9a-f]{16}\]$/);
  const other = compileMasker({ hmacKey: 'z'.repeat(32), style: 'hash' }).maskText('a@example.com');
  assert.notEqual(other, a[2], 'another key, another hash');
});

test('partial style keeps a birth date valid: the year survives', () => {
  const m = compileMasker({ hmacKey: KEY, style: 'partial' });
  const rs = pgResult(m, [{ name: 'date_of_birth', typeOid: DATE }, { name: 'birthday', typeOid: TEXT }]);
  assert.deepEqual(rs.maskRow(['1985-03-12', '1985-03-12']), ['1985-01-01', '1985-**-**']);
});

test('a scan rule on a typed column replaces the whole value by type', () => {
  const m = compileMasker({ hmacKey: KEY, columns: [{ match: 'card_no', action: 'scan' }] });
  const rs = pgResult(m, [{ name: 'card_no', typeOid: INT8 }]);
  assert.equal(rs.maskText(0, '4111111111111111'), null);
  assert.equal(rs.maskText(0, '4111111111111112'), '4111111111111112');
  // a numeric's scale does not hide the card from a scan rule
  const n = pgResult(m, [{ name: 'card_no', typeOid: 1700 }]);
  assert.equal(n.maskText(0, '4111111111111111.00'), null);
});

test('json columns: a whole-value mask is a JSON string; a scan keeps the document valid', () => {
  const m = compileMasker({ hmacKey: KEY });
  const rs = pgResult(m, [{ name: 'secret_payload', typeOid: JSONB }, { name: 'doc', typeOid: JSONB }]);
  const out = rs.maskRow(['{"a":1}', '{"email":"x@example.com","password":"p\\"w","n":4111111111111111}']);
  assert.deepEqual(JSON.parse(out[0]!), '[SECRET]');
  const doc = JSON.parse(out[1]!) as Record<string, unknown>;
  assert.deepEqual(doc, { email: '[EMAIL]', password: '[PASSWORD]', n: '[CARD]' });
});

test('inet columns are masked by type when ip is enabled', () => {
  const rs = pgResult(compileMasker({ hmacKey: KEY, typedReplacement: 'placeholder' }), [{ name: 'client', typeOid: INET }]);
  assert.equal(rs.maskText(0, '192.168.1.9'), '0.0.0.0');
  const off = pgResult(compileMasker({ hmacKey: KEY, entities: ['secrets'] }), [{ name: 'client', typeOid: INET }]);
  assert.equal(off.maskText(0, '192.168.1.9'), '192.168.1.9');
  assert.equal(off.active, false);
});

test('maskDataRow: same Buffer when clean, a valid rebuilt message when not', () => {
  const m = compileMasker({ hmacKey: KEY });
  const rs = pgResult(m, [{ name: 'id', typeOid: INT4 }, { name: 'contact', typeOid: TEXT }, { name: 'note', typeOid: TEXT }, { name: 'ssn', typeOid: TEXT }]);
  const clean = dataRow(['1', 'nobody', 'hello', null]);
  assert.ok(rs.maskDataRow(clean) === clean);
  const dirty = dataRow(['2', 'a@example.com', 'card 4111 1111 1111 1111', '123-45-6789']);
  assert.deepEqual(readRow(rs.maskDataRow(dirty)), ['2', '[EMAIL]', 'card [CARD]', '[SSN]']);
  // a message that starts inside a larger buffer
  const framed = Buffer.concat([Buffer.from('xyz'), dirty]);
  assert.deepEqual(readRow(rs.maskDataRow(framed, 3)), ['2', '[EMAIL]', 'card [CARD]', '[SSN]']);
});

test('maskDataRow rebuilds rows of every size, many in a row, UTF-8 and long replacements intact', () => {
  // partial style keeps non-ASCII text around a finding; a custom entity gives a hashed replacement
  const m = compileMasker({ hmacKey: KEY, style: 'partial', custom: [{ name: 'code', regex: 'ZZ-[0-9]{4}', style: 'hash' }] });
  const cols: PgColumn[] = [{ name: 'a', typeOid: TEXT }, { name: 'b', typeOid: TEXT }, { name: 'c', typeOid: TEXT }, { name: 'password', typeOid: TEXT }, { name: 'doc', typeOid: JSONB, format: 1 }];
  const rs = pgResult(m, cols);
  const long = 'é'.repeat(9000); // 18,000 bytes: more than an output slab gives one row
  const note = 'n'.repeat(100);
  // All rows are checked at the end, as a socket write holds several: no row may overwrite another.
  const rows: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const pad = 'x'.repeat(i % 13); // neighbours of every length 0..12: copies end on and off word boundaries
    const doc = Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify({ note, e: `jürgen${i}@example.com` }))]);
    const values = [`${pad}Grüße an jürgen@example.com${i % 500 === 0 ? long : ''}`, `${pad}ZZ-${String(i).padStart(4, '0')}`, pad, `secret-${i}`];
    rows.push(rs.maskDataRow(encodeBackend({ type: 'DataRow', values: [...values.map((v) => Buffer.from(v)), doc] })));
  }
  for (let i = 0; i < 3000; i++) {
    const pad = 'x'.repeat(i % 13);
    const big = i % 500 === 0 ? long : '';
    const code = `ZZ-${String(i).padStart(4, '0')}`;
    const got = readRow(rows[i]);
    assert.deepEqual(got.slice(0, 4), [`${pad}Grüße an j***@example.com${big}`, `${pad}${m.maskText(code)}`, pad, '****'], `row ${i}`);
    assert.deepEqual(JSON.parse(got[4]!.slice(1)), { note, e: 'j***@example.com' }, `row ${i}`);
  }
});

test('binary format: text bytes scanned, jsonb version byte kept, other types nulled by rule', () => {
  const m = compileMasker({ hmacKey: KEY });
  const rs = pgResult(m, [{ name: 'note', typeOid: TEXT, format: 1 }, { name: 'doc', typeOid: JSONB, format: 1 }, { name: 'ssn', typeOid: INT8, format: 1 }, { name: 'n', typeOid: INT8, format: 1 }]);
  assert.equal(rs.maskBytes(0, Buffer.from('plain text')), undefined);
  assert.equal(rs.maskBytes(0, Buffer.from('mail a@example.com'))!.toString(), 'mail [EMAIL]');
  const jb = rs.maskBytes(1, Buffer.concat([Buffer.from([1]), Buffer.from('{"e":"a@example.com"}')]))!;
  assert.equal(jb[0], 1);
  assert.equal(jb.subarray(1).toString(), '{"e":"[EMAIL]"}');
  const eight = Buffer.alloc(8);
  assert.equal(rs.maskBytes(2, eight), null);
  assert.equal(rs.maskBytes(3, eight), undefined);
});

test('non-ASCII text around a finding survives byte masking', () => {
  const rs = pgResult(compileMasker({ hmacKey: KEY }), [{ name: 'note', typeOid: TEXT }]);
  const out = rs.maskBytes(0, Buffer.from('Grüße an jürgen@example.de — 😀'))!;
  assert.equal(out.toString(), 'Grüße an [EMAIL] — 😀');
});

test('masking disabled: nothing active, nothing changed', () => {
  const m = compileMasker({ enabled: false });
  const rs = pgResult(m, [{ name: 'password', typeOid: TEXT }]);
  assert.equal(rs.active, false);
  assert.equal(rs.maskText(0, 'hunter2'), 'hunter2');
  assert.equal(m.maskText('a@example.com'), 'a@example.com');
});

test('server messages: Key (col)=(value) follows the column rules', () => {
  const m = compileMasker({ hmacKey: KEY });
  assert.equal(m.maskMessage('duplicate key value violates unique constraint "u"\nKey (email)=(a@b.c) already exists.'), 'duplicate key value violates unique constraint "u"\nKey (email)=([EMAIL]) already exists.');
  assert.equal(m.maskMessage('Key (api_token)=(abc) already exists.'), 'Key (api_token)=([SECRET]) already exists.');
  assert.equal(m.maskMessage('Key (id)=(42) already exists.'), 'Key (id)=(42) already exists.');
});

test('built-in rules about secrets leave typed facts alone (password_changed_at, token_expires)', () => {
  const rs = pgResult(compileMasker({ hmacKey: KEY }), [{ name: 'password_changed_at', typeOid: 1184 }, { name: 'password_attempts', typeOid: INT4 }, { name: 'token_expired', typeOid: BOOL }, { name: 'password_hash', typeOid: TEXT }, { name: 'password_hash', typeOid: 17 }]);
  assert.deepEqual(rs.maskRow(['2024-01-01 00:00:00+00', '3', 'f', '$2b$12$abc', '\\x0102']), ['2024-01-01 00:00:00+00', '3', 'f', '[PASSWORD]', null]);
  // an explicit rule still applies to any type
  const explicit = pgResult(compileMasker({ hmacKey: KEY, columns: [{ match: 'password_attempts' }] }), [{ name: 'password_attempts', typeOid: INT4 }]);
  assert.equal(explicit.maskText(0, '3'), null);
});

// Found by `npm run fuzz` (relay sessions with masking and mutated server replies): a
// DataRow whose value length ran past its frame was rebuilt at a negative size, which moved
// the shared row slab's mark backwards; from then on every masked row of every session
// failed ("Start offset -N is outside the bounds of the buffer").
test('maskDataRow refuses a row whose fields run past its frame, and the next rows still mask', () => {
  const m = compileMasker({ hmacKey: KEY, columns: [{ match: 'email' }] });
  const rs = pgResult(m, [{ name: 'id', typeOid: TEXT }, { name: 'email', typeOid: TEXT }]);
  const good = dataRow(['1', 'ann@example.com']);
  const lying = Buffer.from(good);
  lying.writeInt32BE(1000, 5 + 2 + 4 + 1); // the email's length: far past the frame
  assert.throws(() => rs.maskDataRow(lying), RangeError);
  const short = Buffer.from(good);
  short.writeInt32BE(6, 1); // a frame length that leaves out the values
  assert.throws(() => rs.maskDataRow(short), RangeError);
  for (let i = 0; i < 3; i++) {
    const again = pgResult(m, [{ name: 'id', typeOid: TEXT }, { name: 'email', typeOid: TEXT }]);
    const out = again.maskDataRow(dataRow(['2', 'bob@example.com']));
    assert.equal(readRow(out)[0], '2');
    assert.notEqual(readRow(out)[1], 'bob@example.com');
  }
});
