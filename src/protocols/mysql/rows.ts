// Result rows, in both protocols: read where they lie in the packet, masked value by
// value (a row is rebuilt only when a value changes), and decoded to text for the record.
//   text rows (COM_QUERY):         each value a length-encoded string, or 0xFB for NULL;
//   binary rows (COM_STMT_EXECUTE): 0x00, a NULL bitmap (offset 2), then each non-NULL
//                                   value in its type's binary encoding.
// Fail closed: a binary row Warden cannot read to its end (a type it does not know, a
// length past the packet) comes out as a row of NULLs: a value it cannot read is masked whole.
import type { ResultMasker } from '../../masking/index.ts';
import { BINARY_CHARSET, FLAG, TYPE } from './constants.ts';
import { FIXED_WIDTH, isBinaryString, knownBinaryType, TEMPORAL } from './column-types.ts';
import type { ColumnDef } from './messages.ts';
import { lenencSize, writeLenenc } from './packets.ts';

/** Read a length-encoded integer at `pos`: [value (-1 for NULL), position after it]; value -2: past `end`. */
function lenencAt(buf: Buffer, pos: number, end: number): [number, number] {
  if (pos >= end) return [-2, pos];
  const b = buf[pos]!;
  if (b < 0xfb) return [b, pos + 1];
  if (b === 0xfb) return [-1, pos + 1];
  if (b === 0xfc) return pos + 3 > end ? [-2, pos] : [buf.readUInt16LE(pos + 1), pos + 3];
  if (b === 0xfd) return pos + 4 > end ? [-2, pos] : [buf.readUIntLE(pos + 1, 3), pos + 4];
  if (b === 0xfe && pos + 9 <= end) {
    const v = buf.readBigUInt64LE(pos + 1);
    return v > BigInt(end) ? [-2, pos] : [Number(v), pos + 9];
  }
  return [-2, pos];
}

type Replacement = Buffer | null;

// ---- text rows -------------------------------------------------------------------------------------

/** A text row with its values masked: the new payload, or null when nothing changed. */
export function maskTextRow(rs: ResultMasker, buf: Buffer, start: number, end: number, columns: number): Buffer | null {
  let pos = start;
  let at: number[] | null = null;
  let reps: Replacement[] | null = null;
  for (let i = 0; i < columns && pos < end; i++) {
    const [len, next] = lenencAt(buf, pos, end);
    if (len === -1) {
      pos = next;
      continue;
    }
    if (len < 0 || next + len > end) return nullRow(columns); // cannot be read: nothing of it passes
    const r = rs.maskBytes(i, buf, next, next + len);
    if (r !== undefined) {
      (at ??= []).push(pos);
      (reps ??= []).push(r);
    }
    pos = next + len;
  }
  if (!at) return null;
  let size = end - start;
  for (let k = 0; k < at.length; k++) {
    const [len, next] = lenencAt(buf, at[k]!, end);
    const r = reps![k]!;
    size += (r === null ? 1 : lenencSize(r.length) + r.length) - (next - at[k]! + len);
  }
  const out = Buffer.allocUnsafe(size);
  let w = 0;
  let from = start;
  for (let k = 0; k < at.length; k++) {
    const p = at[k]!;
    w += buf.copy(out, w, from, p);
    const [len, next] = lenencAt(buf, p, end);
    const r = reps![k]!;
    if (r === null) out[w++] = 0xfb;
    else {
      w = writeLenenc(out, w, r.length);
      w += r.copy(out, w);
    }
    from = next + len;
  }
  buf.copy(out, w, from, end);
  return out;
}

/** A text row of `columns` NULLs. */
export function nullRow(columns: number): Buffer {
  return Buffer.alloc(columns, 0xfb);
}

/** A text row's values for the record (binary strings as \x hex). */
export function textRowValues(buf: Buffer, start: number, end: number, defs: readonly ColumnDef[]): (string | null)[] {
  const out: (string | null)[] = [];
  let pos = start;
  for (let i = 0; i < defs.length; i++) {
    const [len, next] = lenencAt(buf, pos, end);
    if (len === -1) out.push(null);
    else if (len < 0 || next + len > end) break;
    else out.push(asText(buf, next, next + len, defs[i]!));
    pos = len < 0 ? next : next + len;
  }
  return out;
}

function asText(buf: Buffer, s: number, e: number, def: ColumnDef): string {
  return def.charset === BINARY_CHARSET && (def.type === TYPE.BLOB || def.type === TYPE.TINY_BLOB || def.type === TYPE.MEDIUM_BLOB || def.type === TYPE.LONG_BLOB || def.type === TYPE.VAR_STRING || def.type === TYPE.STRING || def.type === TYPE.BIT || def.type === TYPE.GEOMETRY)
    ? `\\x${buf.toString('hex', s, e)}`
    : buf.toString('utf8', s, e);
}

// ---- binary rows ----------------------------------------------------------------------------------

/** Where each value of a binary row lies: [start of its bytes incl. length prefix, start of content, end]; null entries are NULL. */
function binaryLayout(defs: readonly ColumnDef[], buf: Buffer, start: number, end: number): ([number, number, number] | null)[] | null {
  const n = defs.length;
  const bitmap = start + 1;
  let pos = bitmap + ((n + 9) >> 3);
  if (pos > end || buf[start] !== 0x00) return null;
  const out: ([number, number, number] | null)[] = [];
  for (let i = 0; i < n; i++) {
    const bit = i + 2;
    if (buf[bitmap + (bit >> 3)]! & (1 << (bit & 7))) {
      out.push(null);
      continue;
    }
    const type = defs[i]!.type;
    if (!knownBinaryType(type)) return null;
    const fixed = FIXED_WIDTH.get(type);
    if (fixed !== undefined) {
      if (pos + fixed > end) return null;
      out.push([pos, pos, pos + fixed]);
      pos += fixed;
    } else if (TEMPORAL.has(type)) {
      if (pos >= end) return null;
      const len = buf[pos]!;
      if (pos + 1 + len > end) return null;
      out.push([pos, pos + 1, pos + 1 + len]);
      pos += 1 + len;
    } else if (type === TYPE.NULL) {
      out.push([pos, pos, pos]);
    } else {
      const [len, next] = lenencAt(buf, pos, end);
      if (len < 0 || next + len > end) return null;
      out.push([pos, next, next + len]);
      pos = next + len;
    }
  }
  return out;
}

/** A binary row with its values masked: the new payload, or null when nothing changed. */
export function maskBinaryRow(rs: ResultMasker, defs: readonly ColumnDef[], buf: Buffer, start: number, end: number): Buffer | null {
  const layout = binaryLayout(defs, buf, start, end);
  if (!layout) return binaryNullRow(defs.length);
  let reps: (Replacement | undefined)[] | null = null;
  for (let i = 0; i < layout.length; i++) {
    const v = layout[i];
    if (!v) continue;
    let r = rs.maskBytes(i, buf, v[1], v[2]);
    if (r === undefined) continue;
    // a replacement for a value that is not a string cannot be written in its type: NULL
    if (r !== null && !isBinaryString(defs[i]!.type)) r = null;
    (reps ??= new Array(layout.length))[i] = r;
  }
  if (!reps) return null;
  const n = defs.length;
  const bitmapBytes = (n + 9) >> 3;
  let size = 1 + bitmapBytes;
  for (let i = 0; i < n; i++) {
    const v = layout[i];
    if (!v) continue;
    const r = reps[i];
    if (r === undefined) size += v[2] - v[0];
    else if (r !== null) size += lenencSize(r.length) + r.length;
  }
  const out = Buffer.alloc(size);
  buf.copy(out, 1, start + 1, start + 1 + bitmapBytes);
  let w = 1 + bitmapBytes;
  for (let i = 0; i < n; i++) {
    const v = layout[i];
    if (!v) continue;
    const r = reps[i];
    if (r === undefined) w += buf.copy(out, w, v[0], v[2]);
    else if (r === null) out[1 + ((i + 2) >> 3)]! |= 1 << ((i + 2) & 7);
    else {
      w = writeLenenc(out, w, r.length);
      w += r.copy(out, w);
    }
  }
  return out;
}

/** A binary row of `n` NULLs. */
export function binaryNullRow(n: number): Buffer {
  const out = Buffer.alloc(1 + ((n + 9) >> 3));
  for (let i = 0; i < n; i++) out[1 + ((i + 2) >> 3)]! |= 1 << ((i + 2) & 7);
  return out;
}

/** A binary row's values as text, for the record; null when the row cannot be read. */
export function binaryRowValues(defs: readonly ColumnDef[], buf: Buffer, start: number, end: number): (string | null)[] | null {
  const layout = binaryLayout(defs, buf, start, end);
  if (!layout) return null;
  return layout.map((v, i) => (v ? binaryValueText(defs[i]!, buf, v[1], v[2]) : null));
}

/** One binary-protocol value as MySQL would print it. */
export function binaryValueText(def: Pick<ColumnDef, 'type' | 'flags' | 'charset'>, buf: Buffer, s: number, e: number): string {
  const unsigned = (def.flags & FLAG.UNSIGNED) !== 0;
  switch (def.type) {
    case TYPE.TINY:
      return String(unsigned ? buf.readUInt8(s) : buf.readInt8(s));
    case TYPE.SHORT:
      return String(unsigned ? buf.readUInt16LE(s) : buf.readInt16LE(s));
    case TYPE.YEAR:
      return String(buf.readUInt16LE(s));
    case TYPE.LONG:
    case TYPE.INT24:
      return String(unsigned ? buf.readUInt32LE(s) : buf.readInt32LE(s));
    case TYPE.LONGLONG:
      return String(unsigned ? buf.readBigUInt64LE(s) : buf.readBigInt64LE(s));
    case TYPE.FLOAT:
      return String(Math.fround(buf.readFloatLE(s)));
    case TYPE.DOUBLE:
      return String(buf.readDoubleLE(s));
    case TYPE.DATE:
    case TYPE.NEWDATE:
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
    case TYPE.DATETIME2:
    case TYPE.TIMESTAMP2:
      return dateText(buf, s, e, def.type === TYPE.DATE || def.type === TYPE.NEWDATE);
    case TYPE.TIME:
    case TYPE.TIME2:
      return timeText(buf, s, e);
    default:
      return asText(buf, s, e, def as ColumnDef);
  }
}

const two = (n: number) => String(n).padStart(2, '0');

function dateText(buf: Buffer, s: number, e: number, dateOnly: boolean): string {
  const len = e - s;
  const y = len >= 4 ? buf.readUInt16LE(s) : 0;
  const date = `${String(y).padStart(4, '0')}-${two(len >= 4 ? buf[s + 2]! : 0)}-${two(len >= 4 ? buf[s + 3]! : 0)}`;
  if (dateOnly) return date;
  const time = `${two(len >= 7 ? buf[s + 4]! : 0)}:${two(len >= 7 ? buf[s + 5]! : 0)}:${two(len >= 7 ? buf[s + 6]! : 0)}`;
  const micro = len >= 11 ? `.${String(buf.readUInt32LE(s + 7)).padStart(6, '0')}` : '';
  return `${date} ${time}${micro}`;
}

function timeText(buf: Buffer, s: number, e: number): string {
  const len = e - s;
  if (len < 8) return '00:00:00';
  const negative = buf[s] === 1;
  const hours = buf.readUInt32LE(s + 1) * 24 + buf[s + 5]!;
  const micro = len >= 12 ? `.${String(buf.readUInt32LE(s + 8)).padStart(6, '0')}` : '';
  return `${negative ? '-' : ''}${two(hours)}:${two(buf[s + 6]!)}:${two(buf[s + 7]!)}${micro}`;
}

/** The length of a binary-protocol parameter value at `pos` (COM_STMT_EXECUTE), or -1 when it cannot be read. */
export function binaryValueEnd(type: number, buf: Buffer, pos: number, end: number): number {
  const fixed = FIXED_WIDTH.get(type);
  if (fixed !== undefined) return pos + fixed <= end ? pos + fixed : -1;
  if (TEMPORAL.has(type)) return pos < end && pos + 1 + buf[pos]! <= end ? pos + 1 + buf[pos]! : -1;
  if (type === TYPE.NULL) return pos;
  if (!knownBinaryType(type)) return -1;
  const [len, next] = lenencAt(buf, pos, end);
  return len < 0 || next + len > end ? -1 : next + len;
}

/** Where a value's content starts (after a length prefix) for a value spanning [pos, valueEnd). */
export function binaryContentStart(type: number, buf: Buffer, pos: number, end: number): number {
  if (FIXED_WIDTH.has(type) || type === TYPE.NULL) return pos;
  if (TEMPORAL.has(type)) return pos + 1;
  return lenencAt(buf, pos, end)[1];
}
