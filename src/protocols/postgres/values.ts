// Reading the few fields the relay needs straight from frames, without building
// message objects: DataRow values for the record, Bind parameters, NUL strings.
import type { FieldDescription } from './messages.ts';
import { ProtocolError } from './buffers.ts';

/** Text of a NUL-terminated string starting at `start`; returns [text, next offset]. */
export function cstringAt(buf: Buffer, start: number, end: number): [string, number] {
  let nul = buf.indexOf(0, start);
  if (nul < 0 || nul >= end) nul = end;
  return [buf.toString('utf8', start, nul), nul + 1];
}

/** A value as the record keeps it: text as is, binary as \x-hex (the bytea text form). */
function asText(buf: Buffer, start: number, end: number, binary: boolean): string {
  return binary ? '\\x' + buf.toString('hex', start, end) : buf.toString('utf8', start, end);
}

/** Decode a DataRow payload for the record; `formats` from the RowDescription (0 text, 1 binary). */
export function dataRowValues(buf: Buffer, start: number, end: number, fields: FieldDescription[] | null): (string | null)[] {
  // Fields are read within the frame only: a count or length that points past it (a
  // broken target) is a protocol error, never a read of the next frame or past the buffer.
  if (end - start < 2) throw new ProtocolError('DataRow is shorter than its fields');
  const n = buf.readInt16BE(start);
  if (n < 0 || n * 4 > end - start - 2) throw new ProtocolError(`DataRow of ${n} values does not fit its frame`);
  const out: (string | null)[] = new Array(n);
  let off = start + 2;
  for (let i = 0; i < n; i++) {
    if (off + 4 > end) throw new ProtocolError('DataRow is shorter than its fields');
    const len = buf.readInt32BE(off);
    off += 4;
    if (len < 0) out[i] = null;
    else {
      out[i] = asText(buf, off, Math.min(off + len, end), fields?.[i]?.format === 1);
      off += len;
    }
  }
  return out;
}

/** Bind parameters as text for the record (binary ones as \x-hex). */
export function bindParams(values: (Buffer | null)[], formats: number[]): (string | null)[] {
  return values.map((v, i) => {
    if (v === null) return null;
    const f = formats.length === 1 ? formats[0] : formats[i] ?? 0;
    return asText(v, 0, v.length, f === 1);
  });
}
