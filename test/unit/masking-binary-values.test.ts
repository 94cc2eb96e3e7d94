// Reading Postgres binary values and number/bytea text forms for the detectors: a card
// number comes out as its digits whatever the type holds it, containers keep their
// elements apart, and what cannot be read (a user type, a malformed value) is null, so
// the masker replaces it whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryPlaceholder, binaryValueText } from '../../src/protocols/postgres/binary-values.ts';
import { byteaHex, byteaText } from '../../src/protocols/postgres/bytea.ts';
import { integerDigitsOf } from '../../src/masking/value-text.ts';
import { mysqlValueType } from '../../src/protocols/mysql/column-types.ts';
import { TYPE } from '../../src/protocols/mysql/constants.ts';
import { compileMasker } from '../../src/masking/index.ts';
import { pgResult } from '../helpers/pg-masking.ts';

const CARD = '4539578763621486';
const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const int16s = (...ns: number[]) => { const b = Buffer.alloc(2 * ns.length); ns.forEach((n, i) => b.writeInt16BE(n, 2 * i)); return b; };
const read = (oid: number, b: Buffer) => binaryValueText(oid, b, 0, b.length);
const int8 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64BE(n); return b; };

test('numbers in binary form come out as their integer digits', () => {
  assert.equal(read(20, int8(BigInt(CARD))), CARD);
  assert.equal(read(20, int8(-BigInt(CARD))), CARD);
  const f = Buffer.alloc(8);
  f.writeDoubleBE(Number(CARD));
  assert.equal(read(701, f), CARD);
  // numeric 4539578763621486.25: base-10000 digits 4539 5787 6362 1486 . 2500, weight 3, scale 2
  assert.equal(read(1700, int16s(5, 3, 0, 2, 4539, 5787, 6362, 1486, 2500)), CARD);
  assert.equal(read(1700, int16s(1, -1, 0, 2, 2500)), '0');
  assert.equal(read(1700, int16s(5, 3, 0)), null, 'truncated');
});

test('arrays, records, ranges and tsvector are read element by element; what cannot be read is null', () => {
  // int8[] {CARD, 7}
  const arr = Buffer.concat([int32(1), int32(0), int32(20), int32(2), int32(1), int32(8), int8(BigInt(CARD)), int32(8), int8(7n)]);
  assert.equal(read(1016, arr), `{${CARD},7}`);
  assert.equal(read(1016, arr.subarray(0, arr.length - 1)), null);
  // record (int4 1, text 'a@b.co', an enum (user OID): unreadable)
  const field = (oid: number, v: Buffer) => Buffer.concat([int32(oid), int32(v.length), v]);
  assert.equal(read(2249, Buffer.concat([int32(2), field(23, int32(1)), field(25, Buffer.from('a@b.co'))])), '(,a@b.co)');
  assert.equal(read(2249, Buffer.concat([int32(1), field(16500, Buffer.from('x'))])), null);
  // int8range [CARD, ∞)
  assert.equal(read(3926, Buffer.concat([Buffer.from([0x12]), int32(8), int8(BigInt(CARD))])), `[${CARD})`);
  assert.equal(read(3926, Buffer.from([1])), '');
  // tsvector: one lexeme with one position
  assert.equal(read(3614, Buffer.concat([int32(1), Buffer.from(`${CARD}\0`), Buffer.from([0, 1, 0, 1])])), CARD);
  assert.equal(read(16500, Buffer.from('anything')), null, 'a user type');
});

test('binary placeholders are valid empty values of the type', () => {
  const arr = Buffer.concat([int32(1), int32(0), int32(25), int32(1), int32(1), int32(1), Buffer.from('x')]);
  assert.deepEqual(binaryPlaceholder(1009, arr, 0, arr.length), Buffer.concat([int32(0), int32(0), int32(25)]));
  assert.deepEqual(binaryPlaceholder(3926, Buffer.alloc(0), 0, 0), Buffer.from([1]));
  assert.equal(binaryPlaceholder(16500, Buffer.alloc(0), 0, 0), null);
});

test('number and bytea text forms', () => {
  assert.equal(integerDigitsOf(`${CARD}.00`, false), CARD);
  assert.equal(integerDigitsOf('4.539578763621486e+15', false), CARD);
  assert.equal(integerDigitsOf(`{-${CARD}.5,7}`, false), `{${CARD},7}`);
  assert.equal(integerDigitsOf('$4,539,578,763,621,486.00', true), `$${CARD}`);
  assert.equal(byteaText(byteaHex('a@b.co\u00ff')), 'a@b.co\u00ff');
  assert.equal(byteaText('a\\\\b\\101'), 'a\\bA');
});

test('a binary int8 column: a card is replaced whole (zero with placeholders, else NULL), an id passes', () => {
  for (const [typedReplacement, want] of [['null', null], ['placeholder', Buffer.alloc(8)]] as const) {
    const rs = pgResult(compileMasker({ hmacKey: 'k'.repeat(32), typedReplacement }), [{ name: 'n', typeOid: 20, format: 1, pgBinary: true }]);
    assert.deepEqual(rs.maskBytes(0, int8(BigInt(CARD))), want);
    assert.equal(rs.maskBytes(0, int8(123456789n)), undefined);
    assert.deepEqual(rs.maskedColumns(), ['n']);
  }
});

test('a MySQL BIGINT in the binary protocol (little-endian) is read by its engine: a card is masked, an id passes', () => {
  const le = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(n);
    return b;
  };
  const my = compileMasker({ hmacKey: 'k'.repeat(32) }).forColumns([{ name: 'n', value: mysqlValueType({ type: TYPE.LONGLONG, flags: 0, charset: 63 }, true) }]);
  assert.equal(my.maskBytes(0, le(BigInt(CARD))), null);
  assert.equal(my.maskBytes(0, le(123456789n)), undefined);
  // read as Postgres's big-endian int8, the same bytes would be another number: each engine reads its own
  assert.deepEqual(my.maskedColumns(), ['n']);
});

test('a binary value whose engine gives no reader is masked whole, unless its type carries nothing', () => {
  const rs = compileMasker({ hmacKey: 'k'.repeat(32) }).forColumns([
    { name: 'blob', value: { type: 'other', read: 'text', binary: { textOffset: -1 } } },
    { name: 'flag', value: { type: 'bool', read: 'pass', binary: { textOffset: -1 } } },
  ]);
  assert.equal(rs.maskBytes(0, Buffer.from([1, 2, 3])), null);
  assert.equal(rs.maskBytes(1, Buffer.from([1])), undefined);
  assert.deepEqual(rs.maskedColumns(), ['blob']);
});
