// Replacements that stay valid for the column's type, so a driver that parses types
// (psycopg, JDBC, pg with type parsers) never meets "[SSN]" in an int column. Text
// format only; a masked binary value of a non-text type becomes NULL.
import type { TypeClass } from './value-types.ts';

const PLACEHOLDER: Partial<Record<TypeClass, string>> = {
  number: '0',
  bool: 'false',
  date: '1900-01-01',
  timestamp: '1900-01-01 00:00:00',
  timestamptz: '1900-01-01 00:00:00+00',
  time: '00:00:00',
  uuid: '00000000-0000-0000-0000-000000000000',
  inet: '0.0.0.0',
  array: '{}',
  range: 'empty',
  json: '"[MASKED]"',
};

export function placeholderOf(type: TypeClass): string | null {
  return PLACEHOLDER[type] ?? null;
}

/** A stable value of the type from a hex digest (hash style): an integer within `bits`, or a UUID. */
export function hashedTyped(type: TypeClass, bits: number, hex: string): string | null {
  if (type === 'number') {
    return (BigInt(`0x${hex.slice(0, 16)}`) & ((1n << BigInt(bits)) - 1n)).toString();
  }
  if (type === 'uuid') {
    const h = hex.padEnd(32, '0');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  return null;
}

/** Partial style that still parses: a birth date keeps its year (`1985-01-01`). */
export function partialTyped(type: TypeClass, value: string): string | null {
  const y = /^(\d{4,})-/.exec(value);
  if (!y) return null;
  if (type === 'date') return `${y[1]}-01-01`;
  if (type === 'timestamp') return `${y[1]}-01-01 00:00:00`;
  if (type === 'timestamptz') return `${y[1]}-01-01 00:00:00+00`;
  return null;
}
