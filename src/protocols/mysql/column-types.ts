// MySQL column types as the masker's neutral value classes (src/masking/value-types.ts):
// text to scan, numbers that can hold a card (their digits are read, in the text and the
// binary protocol alike), values that carry nothing (dates, small integers), JSON, bytes.
import type { ColumnInfo } from '../../masking/index.ts';
import type { TypeClass, ValueKind, ValueType } from '../../masking/value-types.ts';
import { FLAG, TYPE } from './constants.ts';
import type { ColumnDef } from './messages.ts';
import { binaryValueText } from './rows.ts';

function classOf(c: Pick<ColumnDef, 'type' | 'flags'>): { type: TypeClass; read: ValueKind; intBits?: number } {
  switch (c.type) {
    case TYPE.TINY:
    case TYPE.SHORT:
    case TYPE.YEAR:
      return { type: 'number', read: 'pass', intBits: 15 };
    case TYPE.LONG:
    case TYPE.INT24:
      // an unsigned int reaches 4294967295: ten digits, no card; kept as a number that is read, as before
      return c.flags & FLAG.UNSIGNED ? { type: 'number', read: 'number', intBits: 53 } : { type: 'number', read: 'pass', intBits: 31 };
    case TYPE.LONGLONG:
    case TYPE.DOUBLE:
    case TYPE.DECIMAL:
    case TYPE.NEWDECIMAL:
      return { type: 'number', read: 'number', intBits: 53 };
    case TYPE.FLOAT:
      return { type: 'number', read: 'pass' };
    case TYPE.DATE:
    case TYPE.NEWDATE:
      return { type: 'date', read: 'pass' };
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
    case TYPE.DATETIME2:
    case TYPE.TIMESTAMP2:
      return { type: 'timestamp', read: 'pass' };
    case TYPE.TIME:
    case TYPE.TIME2:
      return { type: 'time', read: 'pass' };
    case TYPE.JSON:
      return { type: 'json', read: 'text' };
    case TYPE.BIT:
      return { type: 'bytes', read: 'bytes' };
    case TYPE.GEOMETRY:
    case TYPE.VECTOR:
      return { type: 'other', read: 'text' };
    default:
      // strings, blobs, enums, sets; binary strings too: their bytes are scanned like text
      // (more is masked, never less), and a rule's replacement is valid bytes
      return { type: 'text', read: 'text' };
  }
}

/** The neutral value type of a MySQL column, in the text or the binary protocol. */
export function mysqlValueType(c: Pick<ColumnDef, 'type' | 'flags' | 'charset'>, binary: boolean): ValueType {
  const k = classOf(c);
  const v: ValueType = { type: k.type, read: k.read };
  if (k.intBits !== undefined) v.intBits = k.intBits;
  if (k.type === 'other') v.digits = true;
  if (binary) {
    // Strings (decimals too) are length-prefixed text; fixed-width numbers and times are read
    // as MySQL prints them, so a card in a BIGINT is found in a prepared statement's row too.
    const def = { type: c.type, flags: c.flags, charset: c.charset };
    v.binary = isBinaryString(c.type) ? { textOffset: 0 } : { textOffset: -1, decode: (b, s, e) => binaryValueText(def, b, s, e) };
  }
  return v;
}

/** Is the column's value text in the binary protocol (a length-prefixed string)? */
export function isBinaryString(type: number): boolean {
  return !FIXED_WIDTH.has(type) && !TEMPORAL.has(type) && type !== TYPE.NULL;
}

/** Binary-protocol widths of fixed-size values. */
export const FIXED_WIDTH = new Map<number, number>([
  [TYPE.TINY, 1],
  [TYPE.SHORT, 2],
  [TYPE.YEAR, 2],
  [TYPE.LONG, 4],
  [TYPE.INT24, 4],
  [TYPE.FLOAT, 4],
  [TYPE.LONGLONG, 8],
  [TYPE.DOUBLE, 8],
]);

/** Binary-protocol dates and times: one length byte, then that many bytes. */
export const TEMPORAL = new Set<number>([TYPE.DATE, TYPE.NEWDATE, TYPE.DATETIME, TYPE.TIMESTAMP, TYPE.TIME, TYPE.DATETIME2, TYPE.TIMESTAMP2, TYPE.TIME2]);

/** Types whose binary-protocol encoding the engine knows; a row with any other cannot be read. */
export function knownBinaryType(type: number): boolean {
  return FIXED_WIDTH.has(type) || TEMPORAL.has(type) || type === TYPE.NULL || type === TYPE.DECIMAL || type === TYPE.NEWDECIMAL || type === TYPE.VARCHAR || type === TYPE.BIT || type === TYPE.JSON || type === TYPE.VECTOR || (type >= TYPE.ENUM && type <= TYPE.GEOMETRY);
}

/** What masking knows of a column from its definition: where it comes from and its type class. */
export function columnInfo(c: ColumnDef, binary: boolean): ColumnInfo {
  const info: ColumnInfo = { name: c.name, value: mysqlValueType(c, binary) };
  if (c.orgName) info.column = c.orgName;
  if (c.orgTable) {
    info.table = c.orgTable;
    if (c.schema) info.schema = c.schema;
  } else info.computed = true;
  return info;
}
