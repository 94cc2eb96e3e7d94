// COPY ... TO STDOUT (FORMAT binary): each CopyData message holds whole tuples (Postgres
// sends one per message, the first after the file header), each a field count and then
// per field an int32 length (-1: NULL) and its bytes. Masking a field changes its length,
// so the message is rebuilt with the new lengths; a message masked as one piece of text
// (as text COPY is) would break the framing and every non-UTF-8 byte in it.
//
// The CopyOutResponse carries no column types. A field is scanned as text when its bytes
// read as text: valid UTF-8 without control characters other than tab, newline and
// carriage return. Binary integers, floats, dates and most bytea values hold zero or
// control bytes and are passed as they are.
import { isUtf8 } from 'node:buffer';

/** "PGCOPY\n\377\r\n\0", then int32 flags and int32 extension length. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** A field's new bytes: a Buffer, null for NULL, undefined to keep it as it is. */
export type FieldMasker = (field: number, buf: Buffer, start: number, end: number) => Buffer | null | undefined;

/** The detectors over every field that reads as text, when the COPY's columns are not known. */
export function textFieldMasker(maskText: (text: string) => string): FieldMasker {
  return (_field, buf, start, end) => {
    if (!readsAsText(buf, start, end)) return undefined;
    const text = buf.toString('utf8', start, end);
    const masked = maskText(text);
    return masked === text ? undefined : Buffer.from(masked, 'utf8');
  };
}

export interface BinaryCopyTuple {
  /** fields as the record shows them: text, `\x<hex>` for other bytes, null for NULL */
  values: (string | null)[];
  /** the original text of fields that changed (for keepOriginals), else undefined */
  originals?: (string | null)[];
}

export interface MaskedBinaryCopy {
  /** the new CopyData payload, or undefined when nothing changed */
  payload: Buffer | undefined;
  tuples: BinaryCopyTuple[];
  /** the payload is not a header and whole tuples (Postgres always sends those): left as it is */
  unparsed: boolean;
  /** the payload began with the file header */
  header: boolean;
  /** how many tuples it held (`tuples` is empty when not recording) */
  rows: number;
}

/**
 * Mask the text fields of one binary CopyData payload `buf[start, end)`. `headerPending`:
 * no message of this COPY carried the file header yet (it may start this one). `record`:
 * return the tuples as the record shows them (off once the record keeps no more rows,
 * so a long COPY does not decode every field for nothing).
 */
export function maskBinaryCopy(buf: Buffer, start: number, end: number, headerPending: boolean, mask: FieldMasker, record = true): MaskedBinaryCopy {
  let pos = start;
  let header = false;
  if (headerPending && end - start >= SIGNATURE.length + 8 && buf.compare(SIGNATURE, 0, SIGNATURE.length, start, start + SIGNATURE.length) === 0) {
    const extension = buf.readUInt32BE(start + SIGNATURE.length + 4);
    pos = start + SIGNATURE.length + 8 + extension;
    header = true;
    if (pos > end) return { payload: undefined, tuples: [], unparsed: true, header, rows: 0 };
  }
  const tuples: BinaryCopyTuple[] = [];
  let rows = 0;
  // Pieces of the new payload: untouched byte ranges and replaced fields, in order.
  const pieces: Buffer[] = [];
  let copiedTo = start;
  let changed = false;
  while (pos < end) {
    if (end - pos < 2) return { payload: undefined, tuples, unparsed: true, header, rows };
    const count = buf.readInt16BE(pos);
    pos += 2;
    if (count === -1) continue; // the trailer
    const tuple: BinaryCopyTuple = { values: [] };
    for (let i = 0; i < count; i++) {
      if (end - pos < 4) return { payload: undefined, tuples, unparsed: true, header, rows };
      const len = buf.readInt32BE(pos);
      if (len < 0) {
        if (record) tuple.values.push(null);
        pos += 4;
        continue;
      }
      const from = pos + 4;
      if (end - from < len) return { payload: undefined, tuples, unparsed: true, header, rows };
      const replaced = mask(i, buf, from, from + len);
      if (replaced === undefined) {
        if (record) tuple.values.push(shown(buf, from, from + len));
      } else {
        changed = true;
        if (record) {
          tuple.values.push(replaced === null ? null : shown(replaced, 0, replaced.length));
          (tuple.originals ??= Array.from({ length: count }, () => null))[i] = shown(buf, from, from + len);
        }
        pieces.push(buf.subarray(copiedTo, pos));
        const length = Buffer.allocUnsafe(4);
        length.writeInt32BE(replaced === null ? -1 : replaced.length);
        pieces.push(length);
        if (replaced !== null) pieces.push(replaced);
        copiedTo = from + len;
      }
      pos = from + len;
    }
    if (record) tuples.push(tuple);
    rows++;
  }
  if (!changed) return { payload: undefined, tuples, unparsed: false, header, rows };
  pieces.push(buf.subarray(copiedTo, end));
  return { payload: Buffer.concat(pieces), tuples, unparsed: false, header, rows };
}

/** A field as the record shows it: its text when it reads as text, else `\\x<hex>`. */
function shown(b: Buffer, start: number, end: number): string {
  return readsAsText(b, start, end) ? b.toString('utf8', start, end) : `\\x${b.toString('hex', start, end)}`;
}

/** Valid UTF-8 with no control character but tab, newline and carriage return. */
function readsAsText(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c < 0x20 && c !== 9 && c !== 10 && c !== 13) return false;
    if (c === 0x7f) return false;
  }
  return isUtf8(b.subarray(start, end));
}
