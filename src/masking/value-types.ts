// What the masker knows of a column's values, whatever the protocol: a neutral value class
// the engine derives from its own type system (Postgres OIDs, MySQL column types). The
// masker reads no wire type codes; it reads these.

/** The class a whole-value replacement must stay valid for (and what built-in rules look at). */
export type TypeClass = 'text' | 'array' | 'json' | 'number' | 'bool' | 'date' | 'timestamp' | 'timestamptz' | 'time' | 'uuid' | 'inet' | 'bytes' | 'range' | 'other';

/**
 * How a value is read for detectors, fail closed (an engine says `pass` only for a type that
 * provably carries no text and no number of a card's 13+ digits):
 *   pass    - bool, dates and times, uuid, network types, small integers...
 *   number  - a number that can hold a card: its integer digits go to the numeric detectors
 *   numbers - a container of such numbers (arrays, ranges): same, replaced whole
 *   bytes   - raw bytes: scanned as text
 *   text    - anything else: the text form is scanned
 */
export type ValueKind = 'pass' | 'number' | 'numbers' | 'bytes' | 'text';

/** A value in a binary wire form, as the engine reads it. */
export interface BinaryForm {
  /** where UTF-8 text starts in the value (0: the bytes are the text; 1: jsonb's version byte first); -1: not text */
  textOffset: number;
  /** the text a value that is not text carries (digits of a number, a record's fields); null when it cannot be read: masked whole */
  decode?(buf: Buffer, start: number, end: number): string | null;
  /** a valid value of the type to put in place of a masked one; null: SQL NULL */
  placeholder?(buf: Buffer, start: number, end: number): Buffer | null;
  /** a cheap proof that this value holds no number a card could be (an int8 under 2^32) */
  tooSmallForCard?(buf: Buffer, start: number, end: number): boolean;
}

export interface ValueType {
  type: TypeClass;
  read: ValueKind;
  /** text whose numbers are also read as numbers (a record `(1,4539578763621486.00)`, an unknown type) */
  digits?: boolean;
  /** a number whose text has group separators between its digits (money) */
  grouped?: boolean;
  /** bits bounding a hashed integer replacement (default 53) */
  intBits?: number;
  /** the values come in a binary form (absent: their text form) */
  binary?: BinaryForm;
  /** `bytes` in a text form: the raw bytes (as latin1 text) and back */
  bytesText?: { decode(value: string): string; encode(latin1: string): string };
}

/** A value of unknown type: text, scanned. */
export const TEXT_VALUE: ValueType = { type: 'text', read: 'text' };
