// Column rules and column types. A rule matches a column by name glob (`*_token`), by
// `table.column` or `schema.table.column`; the first matching rule wins, the
// connection's own rules before the global ones, the built-in ones last. The Postgres
// type OID says whether a value is text (scan it) or typed (only a rule touches it, and
// then the replacement must still parse as that type).
import type { ColumnRule } from './config.ts';
import type { Entity } from './entities.ts';
import type { Style } from './styles.ts';

export interface ColumnInfo {
  /** the name the result gives the column (an alias, maybe) */
  name: string;
  /** the table's own name for the column, when the engine knows where it comes from */
  column?: string;
  /** table name, when the engine knows it (resolved from the RowDescription's table OID) */
  table?: string;
  schema?: string;
  /**
   * The value comes from a table the engine could not look up: a rule naming a table
   * then matches on the column alone (masking too much rather than too little).
   */
  tableUnknown?: boolean;
  /**
   * The target says the value is computed, not read from a table's column (Postgres:
   * table OID 0). An expression can carry any column's value under any label, so a skip
   * rule never applies to it: `SELECT ssn || '' AS id` is scanned whatever rule names `id`.
   */
  computed?: boolean;
  /** Postgres type OID; absent means text */
  typeOid?: number;
  /** 0 text, 1 binary (Postgres format code) */
  format?: number;
  /**
   * Binary values are in Postgres's send/recv form, which the masker decodes (numbers,
   * numeric, arrays, records, ranges, tsvector) or masks whole. Absent (MySQL's binary
   * protocol): only binary values that are text are read.
   */
  pgBinary?: boolean;
  /**
   * The table columns the value may carry besides its own (a computed column's inputs, a
   * view column's base columns). A mask rule on any of them masks this column as that
   * column (its entity and style), whatever rule names the column itself.
   */
  sources?: ColumnInfo[];
  /** As a source: columns that could not be looked up. Masked whenever any mask rule exists (fail closed). */
  unresolved?: boolean;
}

export interface CompiledRule {
  action: 'mask' | 'scan' | 'skip';
  /** absent: guessed from the column name when applied */
  entity?: Entity;
  style?: Style;
  /** the pattern names a column only (no table part): it also applies to JSON keys and error details */
  nameOnly: boolean;
  /** one of the built-in rules (they defer to the column type, see `appliesTo`) */
  builtin?: boolean;
  test(col: ColumnInfo): boolean;
}

/** Built-in rules; each applies only when its entity is enabled. */
export const DEFAULT_COLUMN_RULES: { match: string; entity: Entity }[] = [
  ...['*password*', '*passwd*', 'pwd', '*_pwd', 'passphrase', '*_passphrase'].map((match) => ({ match, entity: 'password' })),
  ...['secret', '*_secret', 'secret_*', '*_secret_*', 'token', '*_token', 'api_key', '*_api_key', 'apikey', '*_apikey', 'access_key', '*_access_key', 'private_key', '*_private_key', 'cvv', 'cvc', 'cvv2', '*_cvv', '*_cvc'].map((match) => ({ match, entity: 'secret' })),
  ...['ssn', '*_ssn', 'social_security*'].map((match) => ({ match, entity: 'ssn' })),
  ...['card_number', '*_card_number', 'cc_number', 'credit_card', 'credit_card_number', 'pan'].map((match) => ({ match, entity: 'card' })),
  ...['iban', '*_iban'].map((match) => ({ match, entity: 'iban' })),
  ...['dob', '*_dob', 'date_of_birth', '*_date_of_birth', 'birth_date', '*_birth_date', 'birthdate', '*_birthdate', 'birthday', 'born_on'].map((match) => ({ match, entity: 'dob' })),
  ...['email', '*_email', 'email_address', 'e_mail'].map((match) => ({ match, entity: 'email' })),
  ...['phone', '*_phone', 'phone_number', '*_phone_number', 'mobile', '*_mobile', 'telephone'].map((match) => ({ match, entity: 'phone' })),
];

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/**
 * Compile one `match` pattern: 1 part = column, 2 = table.column, 3 = schema.table.column.
 * A rule that masks or scans matches a column by its label or by its table's name for
 * it, so an alias does not hide a column. A skip rule matches the table's own name when
 * known, so `SELECT ssn AS id` is not skipped by a rule about `id`, and never a computed
 * column, so neither is `SELECT ssn || '' AS id`.
 */
export function compileMatch(match: string, action: ColumnRule['action'] = 'mask'): (col: ColumnInfo) => boolean {
  const parts = match.split('.').map(globToRegExp);
  const col = parts[parts.length - 1]!;
  const named =
    action === 'skip'
      ? (c: ColumnInfo) => c.computed !== true && col.test(c.column ?? c.name)
      : (c: ColumnInfo) => col.test(c.name) || (c.column !== undefined && col.test(c.column));
  if (parts.length === 1) return named;
  // A table rule on a column of a table nobody could name applies (fail closed), a skip rule does not.
  const unknown = (c: ColumnInfo) => c.tableUnknown === true && action !== 'skip';
  if (parts.length === 2) return (c) => named(c) && (c.table !== undefined ? parts[0]!.test(c.table) : unknown(c));
  return (c) => named(c) && (c.table !== undefined && c.schema !== undefined ? parts[0]!.test(c.schema) && parts[1]!.test(c.table) : unknown(c));
}

const DEFAULT_TESTS = DEFAULT_COLUMN_RULES.map((d) => ({ entity: d.entity, test: compileMatch(d.match) }));

/** The entity a masked column stands for when its rule names none, guessed from its name (`api_key` -> secret). */
export function guessEntity(columnName: string): Entity {
  const col = { name: columnName };
  for (const d of DEFAULT_TESTS) if (d.test(col)) return d.entity;
  return 'masked';
}

export function compileRules(user: ColumnRule[], useDefaults: boolean, enabled: ReadonlySet<string>): CompiledRule[] {
  const out: CompiledRule[] = user.map((r) => ({
    action: r.action,
    entity: r.entity,
    style: r.style,
    nameOnly: !r.match.includes('.'),
    test: compileMatch(r.match, r.action),
  }));
  if (useDefaults) {
    for (const d of DEFAULT_COLUMN_RULES) if (enabled.has(d.entity)) out.push({ action: 'mask', entity: d.entity, nameOnly: true, builtin: true, test: compileMatch(d.match) });
  }
  return out;
}

/**
 * A built-in rule about a password, secret or email names a text value; the same name on
 * a number, flag or time (`password_changed_at`, `token_expires`, `password_attempts`)
 * is a fact about it and stays. SSNs, cards and birth dates may be stored typed.
 */
export function builtinApplies(rule: CompiledRule, type: TypeClass): boolean {
  if (!rule.builtin) return true;
  if (rule.entity === 'ssn' || rule.entity === 'card' || rule.entity === 'dob' || rule.entity === 'phone') return true;
  return type === 'text' || type === 'json' || type === 'array' || type === 'bytes' || type === 'other';
}

const UNRESOLVED_RULE: CompiledRule = { action: 'mask', entity: 'masked', nameOnly: false, test: () => false };

/** The first source a mask rule applies to (a built-in one by the source's own type), and that rule. */
export function maskedSource(sources: readonly ColumnInfo[], rules: readonly CompiledRule[]): { rule: CompiledRule; source: ColumnInfo } | null {
  for (const source of sources) {
    if (source.unresolved) {
      if (rules.some((r) => r.action === 'mask')) return { rule: UNRESOLVED_RULE, source };
      continue;
    }
    const rule = rules.find((r) => r.test(source) && builtinApplies(r, typeClassOf(source.typeOid)));
    if (rule?.action === 'mask') return { rule, source };
  }
  return null;
}

export type TypeClass = 'text' | 'array' | 'json' | 'number' | 'bool' | 'date' | 'timestamp' | 'timestamptz' | 'time' | 'uuid' | 'inet' | 'bytes' | 'range' | 'other';

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

/** First OID a user-defined type (citext, enums, domains) can have. */
const FIRST_USER_OID = 16384;

export function typeClassOf(oid: number | undefined): TypeClass {
  if (oid === undefined || oid === 0) return 'text';
  const t = TYPES.get(oid);
  if (t) return t;
  return oid >= FIRST_USER_OID ? 'text' : 'other';
}

/** Binary-format values whose bytes are UTF-8 text (jsonb after its version byte). */
export function binaryTextOffset(oid: number | undefined): number {
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
export function intBits(oid: number | undefined): number {
  if (oid === 21) return 15;
  if (oid === 23 || oid === 26) return 31;
  return 53;
}

/**
 * How a value of a type is read for detectors, fail closed: only a type on the allow-list
 * below passes unscanned; everything else (records, composites, arrays, ranges, hstore,
 * tsvector, xml, user and unknown types) is read as text.
 *   pass    - provably carries no text and no number of a card's 13+ digits
 *   number  - a number that can hold a card (int8, numeric, float8, money): its integer
 *             digits go to the numeric detectors, a finding replaces it whole
 *   numbers - a container of such numbers (int8[], numrange...): same, replaced whole
 *   bytes   - bytea: its bytes are the text
 *   text    - anything else: the text form is scanned
 */
export type ValueKind = 'pass' | 'number' | 'numbers' | 'bytes' | 'text';

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
