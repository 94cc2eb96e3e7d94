// Postgres binary (send/recv) values read as text for the detectors, so a binary result
// format is no way around masking. What cannot be read (a user type, whose binary form
// only its extension knows; a malformed value) is null: the caller masks it whole.
// Numbers come out as their integer digits ("4111111111111111"), the form in which the
// card detector knows a card; containers join their elements with the text-format
// punctuation, so elements never run together into one digit run.
import { carriesNoText } from './value-types.ts';
import { floatDigits } from '../../masking/value-text.ts';

// Element types of the built-in ranges that can hold a card (int4/date/time ranges carry no text).
const RANGE_ELEMENT = new Map<number, number>([[3926, 20], [3906, 1700]]);
// Multiranges of those: int32 count, then each range as a length and its bytes.
const MULTIRANGE_ELEMENT = new Map<number, number>([[4536, 3926], [4532, 3906]]);
// Built-in array types whose elements may carry text (arrays of text-free types pass before here).
const ARRAYS = new Set([1009, 1015, 1014, 1002, 1003, 199, 3807, 143, 1001, 1016, 1022, 1231, 791, 2287, 3643, 3645, 1017, 1263]);
const TEXT_LIKE = new Set([25, 1043, 1042, 19, 18, 705, 142, 114]);
const MAX_DEPTH = 8;

/** The text the detectors read in a binary value of type `oid`, or null when it cannot be read. */
export function binaryValueText(oid: number, b: Buffer, start: number, end: number, depth = 0): string | null {
  if (end < start || end > b.length || depth > MAX_DEPTH) return null;
  if (carriesNoText(oid)) return '';
  if (TEXT_LIKE.has(oid)) return b.toString('utf8', start, end);
  switch (oid) {
    case 3802: // jsonb: a version byte, then the text
      return end > start && b[start] === 1 ? b.toString('utf8', start + 1, end) : null;
    case 17: // bytea: the raw bytes; ASCII entities read the same in latin1 as in UTF-8
      return b.toString('latin1', start, end);
    case 20:
    case 790: // money: int8 cents
      return end - start === 8 ? absDigits(b.readBigInt64BE(start) / (oid === 790 ? 100n : 1n)) : null;
    case 701:
      return end - start === 8 ? floatDigits(b.readDoubleBE(start)) : null;
    case 1700:
      return numericDigits(b, start, end);
    case 2249:
      return recordText(b, start, end, depth);
    case 3614:
      return tsvectorText(b, start, end);
  }
  const element = RANGE_ELEMENT.get(oid);
  if (element !== undefined) return rangeText(element, b, start, end, depth);
  if (ARRAYS.has(oid)) return arrayText(b, start, end, depth);
  const range = MULTIRANGE_ELEMENT.get(oid);
  if (range !== undefined && end - start >= 4) return elementsText(b, start + 4, end, b.readInt32BE(start), depth, () => range, '{', '}');
  return null;
}

/** The integer digits of |n|. */
function absDigits(n: bigint): string {
  return (n < 0n ? -n : n).toString();
}


/**
 * numeric: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then ndigits base-10000
 * digits, the first `weight + 1` of them before the point. The integer part only.
 */
function numericDigits(b: Buffer, start: number, end: number): string | null {
  if (end - start < 8) return null;
  const n = b.readInt16BE(start);
  const weight = b.readInt16BE(start + 2);
  if (n < 0 || end - start !== 8 + 2 * n) return null;
  if (weight < 0 || n === 0) return '0';
  let s = '';
  for (let i = 0; i <= weight; i++) {
    const d = i < n ? b.readInt16BE(start + 8 + 2 * i) : 0;
    s += i === 0 ? String(d) : String(d).padStart(4, '0');
  }
  return s;
}

/** An array: int32 ndim, int32 flags, int32 element OID, (int32 size, int32 lbound) per dimension, then the elements. */
function arrayText(b: Buffer, start: number, end: number, depth: number): string | null {
  if (end - start < 12) return null;
  const ndim = b.readInt32BE(start);
  const element = b.readUInt32BE(start + 8);
  if (ndim < 0 || ndim > 6 || end - start < 12 + 8 * ndim) return null;
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= b.readInt32BE(start + 12 + 8 * d);
  if (count < 0) return null;
  return elementsText(b, start + 12 + 8 * ndim, end, count, depth, () => element, '{', '}');
}

/** A record or composite: int32 field count, then per field its type OID and the value. */
function recordText(b: Buffer, start: number, end: number, depth: number): string | null {
  if (end - start < 4) return null;
  const n = b.readInt32BE(start);
  if (n < 0) return null;
  return elementsText(b, start + 4, end, n, depth, (pos) => b.readUInt32BE(pos), '(', ')', 4);
}

/**
 * `count` values one after the other, each an int32 length (-1 NULL) and its bytes after
 * `lead` bytes that `oidAt` reads its type from; null if any cannot be read or they do
 * not fill the value exactly.
 */
function elementsText(b: Buffer, pos: number, end: number, count: number, depth: number, oidAt: (pos: number) => number, open: string, close: string, lead = 0): string | null {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + lead + 4 > end) return null;
    const oid = oidAt(pos);
    pos += lead;
    const len = b.readInt32BE(pos);
    pos += 4;
    if (len < 0) continue;
    if (pos + len > end) return null;
    const t = binaryValueText(oid, b, pos, pos + len, depth + 1);
    if (t === null) return null;
    parts.push(t);
    pos += len;
  }
  return pos === end ? open + parts.join(',') + close : null;
}

/** A range: a flags byte (1 empty, 8 no lower bound, 16 no upper), then the bounds present. */
function rangeText(element: number, b: Buffer, start: number, end: number, depth: number): string | null {
  if (end - start < 1) return null;
  const flags = b[start];
  if (flags & 1) return end - start === 1 ? '' : null;
  const bounds = (flags & 8 ? 0 : 1) + (flags & 16 ? 0 : 1);
  return elementsText(b, start + 1, end, bounds, depth, () => element, '[', ')');
}

/** tsvector: int32 count, then per lexeme its NUL-terminated text, uint16 positions and the positions. */
function tsvectorText(b: Buffer, start: number, end: number): string | null {
  if (end - start < 4) return null;
  const n = b.readInt32BE(start);
  let pos = start + 4;
  const words: string[] = [];
  for (let i = 0; i < n; i++) {
    const nul = b.indexOf(0, pos);
    if (nul < 0 || nul + 3 > end) return null;
    words.push(b.toString('utf8', pos, nul));
    pos = nul + 3 + 2 * b.readUInt16BE(nul + 1);
  }
  return pos === end ? words.join(' ') : null;
}

/**
 * A whole-value replacement valid in the type's binary form, or null when the type has
 * none (the value then goes as SQL NULL, which every client parses): zero for numbers,
 * an empty array, an empty range, an empty tsvector, a JSON string.
 */
export function binaryPlaceholder(oid: number, b: Buffer, start: number, end: number): Buffer | null {
  switch (oid) {
    case 20: case 701: case 790: case 1700: // int8/float8/money zero; numeric 0 (no digits, weight 0, positive, scale 0)
      return Buffer.alloc(8);
    case 3614:
      return Buffer.alloc(4);
    case 114:
      return Buffer.from('"[MASKED]"');
    case 3802:
      return Buffer.from('\u0001"[MASKED]"');
  }
  if (RANGE_ELEMENT.has(oid)) return Buffer.from([1]);
  if (MULTIRANGE_ELEMENT.has(oid)) return Buffer.alloc(4);
  if (ARRAYS.has(oid) && end - start >= 12) {
    // no dimensions, no NULLs, the same element type
    const e = Buffer.alloc(12);
    b.copy(e, 8, start + 8, start + 12);
    return e;
  }
  return null;
}
