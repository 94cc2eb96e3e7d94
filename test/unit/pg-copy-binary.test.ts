// Binary COPY payloads: fields that read as text are masked and their lengths rebuilt;
// the header (with an extension area), NULLs, binary fields and the trailer pass intact;
// a payload that is not whole tuples is left as it came.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskBinaryCopy, textFieldMasker } from '../../src/protocols/postgres/copy-binary.ts';
import { binaryCopyTuples } from '../helpers/binary-copy.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const int16 = (v: number) => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const header = (extension = Buffer.alloc(0)) => Buffer.concat([SIGNATURE, int32(0), int32(extension.length), extension]);
const tuple = (...fields: (Buffer | string | null)[]) =>
  Buffer.concat([int16(fields.length), ...fields.flatMap((f) => (f === null ? [int32(-1)] : [int32(Buffer.byteLength(f)), Buffer.from(f)]))]);
const mask = textFieldMasker((s: string) => s.replace(/\S+@\S+/g, '[EMAIL]'));

/** Fields of every tuple in a payload (after `skip` header bytes), as hex. */
const fields = (b: Buffer, skip = 0) => binaryCopyTuples(b, skip).tuples.map((t) => t.map((f) => (f === null ? null : f.toString('hex'))));
const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');

test('text fields are masked with new lengths; header, NULL, binary fields and trailer intact', () => {
  const extension = Buffer.from([1, 2, 3]);
  const int = Buffer.from([0, 0, 0, 42]);
  const payload = Buffer.concat([header(extension), tuple('ada@example.com', int, null, 'plain'), tuple('x bob@example.org y', Buffer.from([0xff, 0x00])), int16(-1)]);
  const r = maskBinaryCopy(payload, 0, payload.length, true, mask);
  assert.equal(r.header, true);
  assert.equal(r.unparsed, false);
  const out = r.payload!;
  assert.ok(out.subarray(0, header(extension).length).equals(header(extension)));
  assert.deepEqual(fields(out, header(extension).length), [
    [hex('[EMAIL]'), hex(int), null, hex('plain')],
    [hex('x [EMAIL] y'), 'ff00'],
  ]);
  assert.deepEqual(r.tuples.map((t) => t.values), [
    ['[EMAIL]', '\\x0000002a', null, 'plain'],
    ['x [EMAIL] y', '\\xff00'],
  ]);
  assert.deepEqual(r.tuples[0]!.originals, ['ada@example.com', null, null, null]);
});

test('nothing to mask: no new payload; the header is read only where one may come', () => {
  const payload = tuple('PGCOPY is a word here', 'nothing');
  const r = maskBinaryCopy(payload, 0, payload.length, false, mask);
  assert.equal(r.payload, undefined);
  assert.equal(r.header, false);
  assert.deepEqual(r.tuples[0]!.values, ['PGCOPY is a word here', 'nothing']);
  // A header where none is pending is no header: the message does not parse as tuples.
  const withHeader = Buffer.concat([header(), tuple('ada@example.com')]);
  assert.deepEqual([maskBinaryCopy(withHeader, 0, withHeader.length, false, mask).unparsed, maskBinaryCopy(withHeader, 0, withHeader.length, true, mask).unparsed], [true, false]);
});

test('not recording: fields still masked, tuples counted, none decoded for the record', () => {
  const payload = Buffer.concat([tuple('ada@example.com', 'x'), tuple('y'), int16(-1)]);
  const r = maskBinaryCopy(payload, 0, payload.length, false, mask, false);
  assert.deepEqual([r.rows, r.tuples.length], [2, 0]);
  assert.deepEqual(fields(r.payload!), [[hex('[EMAIL]'), hex('x')], [hex('y')]]);
});

test('a payload that is not whole tuples is left as it came', () => {
  const whole = tuple('ada@example.com', 'x');
  for (let cut = 1; cut < whole.length; cut++) {
    const r = maskBinaryCopy(whole, 0, cut, false, mask);
    assert.equal(r.unparsed, true, `cut at ${cut}`);
    assert.equal(r.payload, undefined);
  }
  // inside a larger buffer: only [start, end) is read
  const framed = Buffer.concat([Buffer.from('zz'), whole, Buffer.from('zz')]);
  const r = maskBinaryCopy(framed, 2, 2 + whole.length, false, mask);
  assert.deepEqual(fields(r.payload!), [[hex('[EMAIL]'), hex('x')]]);
});
