// Postgres types as the masker's neutral value classes (src/masking/value-types.ts): which
// OIDs are text, numbers that can hold a card, containers, bytea, or carry nothing at all,
// and how their binary (send/recv) forms are read (binary-values.ts). Fail closed: an OID not
// listed is read as text, and a binary value that cannot be read is masked whole.
import type { ColumnInfo } from '../../masking/index.ts';
import type { BinaryForm, TypeClass, ValueKind, ValueType } from '../../masking/value-types.ts';
import { binaryPlaceholder, binaryValueText } from './binary-values.ts';
import { byteaHex, byteaText } from './bytea.ts';

const TYPES = new Map<number, TypeClass>([
  [25, 'text'], [1043, 'text'], [1042, 'text'], [19, 'text'], [18, 'text'], [705, 'text'], [142, 'text'],
  // arrays of text, json, xml: scanned as text (labels are valid array elements), replaced whole only by type
  [1009, 'array'], [1015, 'array'], [1014, 'array'], [199, 'array'], [3807, 'array'], [143, 'array'],
  // arrays and multiranges of numbers that can hold a card: replaced whole ('{}') when one is found
  [1016, 'array'], [1022, 'array'], [1231, 'array'], [791, 'array'], [4536, 'array'], [4532, 'array'],
  [3926, 'range'], [3906, 'range'],
  [114, 'json'], [3802, 'json'],
  [20, 'number'], [21, 'number'], [23, 'number'], [26, 'number'], [700, 'number'], [701, 'number'], [1700, 'number'], [790, 'number'],
  [16, 'bool'],
  [1082, 'date'], [1114, 'timestamp'], [1184, 'timestamptz'], [1083, 'time'], [1266, 'time'],
  [2950, 'uuid'],
  [869, 'inet'], [650, 'inet'], [829, 'inet'], [774, 'inet'],
  [17, 'bytes'],
]);

/** First OID a user-defined type (citext, enums, domains, composites) can have. */
const FIRST_USER_OID = 16384;

export function typeClassOf(oid: number | undefined): TypeClass {
  if (oid === undefined || oid === 0) return 'text';
  const t = TYPES.get(oid);
  if (t) return t;
  return oid >= FIRST_USER_OID ? 'text' : 'other';
}

/** Binary-format values whose bytes are UTF-8 text (jsonb after its version byte). */
function binaryTextOffset(oid: number | undefined): number {
  switch (oid) {
    case 25: case 1043: case 1042: case 19: case 705: case 114: case 142:
      return 0;
    case 3802:
      return 1;
    default:
      return -1;
  }
}

/** OIDs whose integer range bounds a hashed replacement. */
function intBits(oid: number | undefined): number {
  if (oid === 21) return 15;
  if (oid === 23 || oid === 26) return 31;
  return 53;
}

// int2/int4/oid/float4 hold at most 10 exact digits (a card has 13 or more, and a phone is
// only found with its separators); bool, times, uuid, network and system types hold no text.
const NO_TEXT = [
  16, 21, 23, 26, 700, 1082, 1083, 1266, 1114, 1184, 1186, 2950, 869, 650, 829, 774, 27, 28, 29, 5069, 3220, 1560, 1562,
  // their arrays, and ranges/multiranges of them
  1000, 1005, 1007, 1028, 1021, 1182, 1183, 1270, 1115, 1185, 1187, 2951, 1041, 651, 1040, 775, 1010, 1011, 1012, 271, 3221, 1561, 1563,
  3904, 3912, 3908, 3910, 4451, 4535, 4533, 4534,
];
const KINDS = new Map<number, ValueKind>([
  ...NO_TEXT.map((oid) => [oid, 'pass'] as const),
  [20, 'number'], [701, 'number'], [1700, 'number'], [790, 'number'],
  [1016, 'numbers'], [1022, 'numbers'], [1231, 'numbers'], [791, 'numbers'], [3926, 'numbers'], [3906, 'numbers'], [4536, 'numbers'], [4532, 'numbers'],
  [17, 'bytes'],
]);

export function valueKindOf(oid: number | undefined): ValueKind {
  if (oid === undefined) return 'text';
  return KINDS.get(oid) ?? 'text';
}

/** Types whose values never carry text, for decoders reading elements and fields. */
export function carriesNoText(oid: number): boolean {
  return KINDS.get(oid) === 'pass';
}

const BYTEA_TEXT = { decode: byteaText, encode: byteaHex };
const cache = new Map<number, ValueType>();

/** The neutral value type of a Postgres type OID in a format (0 text, 1 binary); cached. */
export function pgValueType(oid: number | undefined, format = 0): ValueType {
  const key = (oid ?? 0) * 2 + (format === 1 ? 1 : 0);
  let v = cache.get(key);
  if (v) return v;
  const type = typeClassOf(oid);
  const read = valueKindOf(oid);
  v = { type, read, intBits: intBits(oid) };
  if (oid === 790 || oid === 791) v.grouped = true;
  // A record, an unknown built-in or a user type: its text may hide a card among its numbers.
  if (read === 'text' && (oid === 2249 || type === 'other' || (oid !== undefined && oid >= FIRST_USER_OID))) v.digits = true;
  if (read === 'bytes') v.bytesText = BYTEA_TEXT;
  if (format === 1) {
    const o = oid ?? 0;
    const binary: BinaryForm = {
      textOffset: binaryTextOffset(oid),
      decode: (b, s, e) => binaryValueText(o, b, s, e),
      placeholder: (b, s, e) => binaryPlaceholder(o, b, s, e),
    };
    // An int8 (or money) under 2^32 has 10 digits at most: no card.
    if (o === 20 || o === 790) binary.tooSmallForCard = (b, s, e) => e - s === 8 && b.readInt32BE(s) === 0;
    v.binary = binary;
  }
  cache.set(key, v);
  return v;
}

/** A column as Postgres describes it: a type OID and a format code instead of a neutral value type. */
export type PgColumn = Omit<ColumnInfo, 'value' | 'sources'> & { typeOid?: number; format?: number; sources?: PgColumn[] };

/** A result column described by Postgres (a type OID, a format) for the masker. */
export function pgColumn(c: PgColumn): ColumnInfo {
  const { typeOid, format, sources, ...rest } = c;
  // a column already described (a lineage source) keeps its value type
  const known = typeOid === undefined ? (c as ColumnInfo).value : undefined;
  const info: ColumnInfo = { ...rest, value: known ?? pgValueType(typeOid, format) };
  if (sources) info.sources = sources.map(pgColumn);
  return info;
}
