// One compiled rule and the question "does it match this statement?".
//
// Set conditions (tables, functions) lean the safe way for the rule's action: a block or
// review rule matches when ANY name matches; an allow rule only when there is at least one
// name and EVERY name matches. So `allow tables: [public.*]` never lets a statement that
// also reads `secret.keys` through, and `block functions: [pg_read_file]` is not evaded
// by calling a second function alongside.
//
// A statement that cannot be seen through (opaque: DO, dynamic SQL, unknown EXECUTE,
// unparseable) is matched only by block rules and by rules that name it (`opaque: true`
// or its kind); otherwise it falls to the connection's onUnknown.
import type { Identity } from '../identity/types.ts';
import type { Statement } from '../sql/types.ts';
import { globToRegExp, matchName, parseNamePattern, type NamePattern } from './names.ts';
import type { Rule } from './rule-schema.ts';

export interface MatchContext {
  identity: Identity;
  connection: string;
  /** the whole command text, for regex */
  text: string;
}

export interface CompiledRule {
  rule: Rule;
  /** true when the rule depends on who asks beyond groups (users) */
  usesUsers: boolean;
  usesRegex: boolean;
  matches(stmt: Statement, ctx: MatchContext): boolean;
}

export interface CompileOptions {
  /** schemas an unqualified table resolves to, for allow rules (default ['public']) */
  searchPath?: readonly string[];
}

export function compileRule(rule: Rule, opts: CompileOptions = {}): CompiledRule {
  const m = rule.match;
  const searchPath = opts.searchPath ?? ['public'];
  const users = m.users?.map(globToRegExp);
  const groups = m.groups?.map(globToRegExp);
  const connections = m.connections?.map(globToRegExp);
  const kinds = m.kinds ? new Set<string>(m.kinds) : undefined;
  const categories = m.categories ? new Set<string>(m.categories) : undefined;
  const tables = m.tables?.map(parseNamePattern);
  const functions = m.functions?.map(parseNamePattern);
  const regex = m.regex !== undefined ? new RegExp(m.regex, 'i') : undefined;
  const mode = rule.action === 'allow' ? 'every' : 'any';

  const matches = (s: Statement, ctx: MatchContext): boolean => {
    if (s.opaque && rule.action !== 'block' && !m.opaque && !kinds?.has(s.kind)) return false;
    if (connections && !connections.some((r) => r.test(ctx.connection))) return false;
    if (users && !users.some((r) => r.test(ctx.identity.name) || r.test(ctx.identity.subject))) return false;
    if (groups && !groups.some((r) => ctx.identity.groups.some((g) => r.test(g)))) return false;
    if (kinds && !kinds.has(s.kind)) return false;
    if (categories && !categories.has(s.category)) return false;
    if (m.noWhere && !s.noWhere) return false;
    if (m.copyProgram && !s.copy?.program) return false;
    if (m.opaque && !s.opaque) return false;
    if (tables && !setMatches(tables, s.tables, mode, (t) => (t.name.startsWith('pg_') ? ['pg_catalog', ...searchPath] : searchPath))) return false;
    if (functions && !setMatches(functions, s.functions, mode, () => ['pg_catalog', ...searchPath])) return false;
    if (regex && !regex.test(ctx.text)) return false;
    return true;
  };
  return { rule, usesUsers: users !== undefined, usesRegex: regex !== undefined, matches };
}

/**
 * `any`: some name matches some pattern. `every`: there is a name and each matches; an
 * unqualified one must match in every schema it could resolve to (`candidates`).
 */
function setMatches<T extends { schema?: string; name: string }>(
  patterns: NamePattern[],
  refs: readonly T[],
  mode: 'any' | 'every',
  candidates: (ref: T) => readonly string[],
): boolean {
  const some = (ref: { schema?: string; name: string }) => patterns.some((p) => matchName(p, ref));
  if (mode === 'any') return refs.some(some);
  return (
    refs.length > 0 &&
    refs.every((ref) => (ref.schema !== undefined ? some(ref) : candidates(ref).every((schema) => some({ schema, name: ref.name }))))
  );
}
