// Name patterns for tables and functions, read the way SQL reads identifiers: an unquoted
// part folds to lower case (`Secrets` = `secrets`), a double-quoted part is exact
// (`"SeCrEtS"` is another table), `*` globs within an unquoted part, and a pattern with
// one part matches that name in any schema. Names from statements come from the parser,
// already folded, so comparison is exact.
import type { FunctionRef, TableRef } from '../sql/types.ts';

export interface NamePattern {
  /** undefined: any schema */
  schema?: RegExp;
  name: RegExp;
  source: string;
}

export function parseNamePattern(source: string): NamePattern {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  let inQuotes = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (inQuotes) {
      if (ch === '"' && source[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') inQuotes = false;
      else cur += escapeRe(ch);
    } else if (ch === '"') {
      inQuotes = quoted = true;
    } else if (ch === '.') {
      parts.push(finish(cur, quoted, source));
      cur = '';
      quoted = false;
    } else if (ch === '*') cur += '.*';
    else cur += escapeRe(ch.toLowerCase());
  }
  if (inQuotes) throw new Error(`unterminated quote in name pattern: ${source}`);
  parts.push(finish(cur, quoted, source));
  if (parts.length > 3) throw new Error(`too many dots in name pattern: ${source}`);
  // database.schema.name: the database part is the connection's business
  const name = new RegExp(`^${parts[parts.length - 1]}$`);
  const schema = parts.length > 1 ? new RegExp(`^${parts[parts.length - 2]}$`) : undefined;
  return { schema, name, source };
}

function finish(part: string, quoted: boolean, source: string): string {
  if (part === '' && !quoted) throw new Error(`empty part in name pattern: ${source}`);
  return part;
}

function escapeRe(ch: string): string {
  return /[\\^$.|?*+()[\]{}]/.test(ch) ? `\\${ch}` : ch;
}

/**
 * Does the pattern match a name as written in a statement? An unqualified name may live
 * in any schema, so it matches whatever the pattern's schema part says; allow rules,
 * which must not over-match, resolve unqualified names first (see match.ts).
 */
export function matchName(p: NamePattern, ref: TableRef | FunctionRef): boolean {
  if (!p.name.test(ref.name)) return false;
  return !p.schema || ref.schema === undefined || p.schema.test(ref.schema);
}

/** A plain glob for user, group and connection names (`*` only, case-sensitive). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) re += ch === '*' ? '.*' : escapeRe(ch);
  return new RegExp(`^${re}$`);
}
