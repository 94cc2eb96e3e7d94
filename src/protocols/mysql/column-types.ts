// MySQL column types in terms the masking library reads. Masking decides by a type class
// (text to scan, a number or date a rule replaces by a valid value, bytes) and today takes
// it as a Postgres type OID, so each MySQL type maps to the OID of the Postgres type of
// the same class (and integer width, for hashed replacements). A neutral value class in
// masking/ (text, number(bits), bool, date, timestamp, time, json, bytes, other) would
// replace this table.
import type { ColumnInfo } from '../../masking/index.ts';
import { FLAG, TYPE } from './constants.ts';
import type { ColumnDef } from './messages.ts';

const OID = { int2: 21, int4: 23, int8: 20, float4: 700, float8: 701, numeric: 1700, date: 1082, timestamp: 1114, time: 1083, json: 114, text: 25, bytea: 17, other: 600 } as const;

/** The OID of the Postgres type whose class a MySQL column type has. */
export function maskingTypeOid(c: Pick<ColumnDef, 'type' | 'charset' | 'flags'>): number {
  switch (c.type) {
    case TYPE.TINY:
    case TYPE.SHORT:
    case TYPE.YEAR:
      return OID.int2;
    case TYPE.LONG:
    case TYPE.INT24:
      return c.flags & FLAG.UNSIGNED ? OID.int8 : OID.int4;
    case TYPE.LONGLONG:
      return OID.int8;
    case TYPE.FLOAT:
      return OID.float4;
    case TYPE.DOUBLE:
      return OID.float8;
    case TYPE.DECIMAL:
    case TYPE.NEWDECIMAL:
      return OID.numeric;
    case TYPE.DATE:
    case TYPE.NEWDATE:
      return OID.date;
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
    case TYPE.DATETIME2:
    case TYPE.TIMESTAMP2:
      return OID.timestamp;
    case TYPE.TIME:
    case TYPE.TIME2:
      return OID.time;
    case TYPE.JSON:
      return OID.json;
    case TYPE.BIT:
      return OID.bytea;
    case TYPE.GEOMETRY:
    case TYPE.VECTOR:
      return OID.other;
    default:
      // strings, blobs, enums, sets; binary strings too: their bytes are scanned like text
      // (more is masked, never less), and a rule's replacement is valid bytes
      return OID.text;
  }
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
  const info: ColumnInfo = { name: c.name, typeOid: maskingTypeOid(c), format: binary ? 1 : 0 };
  if (c.orgName) info.column = c.orgName;
  if (c.orgTable) {
    info.table = c.orgTable;
    if (c.schema) info.schema = c.schema;
  } else info.computed = true;
  return info;
}
