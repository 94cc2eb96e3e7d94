// Column rules and column types. A rule matches a column by name glob (`*_token`), by
// `table.column` or `schema.table.column`; the first matching rule wins, the
// connection's own rules before the global ones, the built-in ones last. The column's
// neutral value type (the engine's, value-types.ts) says whether a value is text (scan it)
// or typed (only a rule touches it, and then the replacement must still parse as that type).
import type { ColumnRule } from './config.ts';
import type { TypeClass, ValueType } from './value-types.ts';
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
  /** what its values are, in the masker's neutral terms (the engine maps its own types); absent: text */
  value?: ValueType;
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
    const rule = rules.find((r) => r.test(source) && builtinApplies(r, source.value?.type ?? 'text'));
    if (rule?.action === 'mask') return { rule, source };
  }
  return null;
}

export type { TypeClass };
