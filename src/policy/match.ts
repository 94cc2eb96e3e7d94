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
import { compileHttpConditions } from './http-match.ts';
import type { Rule } from './rule-schema.ts';
import { compileCommandGlobs } from './ssh-match.ts';
import { compileGitConditions } from './git-match.ts';
import { compileForwarding } from './ssh-forwarding.ts';

export interface MatchContext {
  identity: Identity;
  connection: string;
  /** the connection's type (postgres, mysql); undefined: not known (a policy probe) */
  connectionType?: string;
  /** the whole command text, for regex */
  text: string;
  /**
   * The schemas an unqualified name may resolve to in this session, in order (the
   * target's current_schemas(true)); null: not known (then an unqualified name may be in
   * any schema: block and review rules match it in any, allow rules only by a pattern
   * without a schema); undefined: the compile-time default (`searchPath`, 'public').
   */
  searchPath?: readonly string[] | null;
}

export interface CompiledRule {
  rule: Rule;
  /** true when the rule depends on who asks beyond groups (users) */
  usesUsers: boolean;
  usesRegex: boolean;
  matches(stmt: Statement, ctx: MatchContext): boolean;
  /**
   * Whether the rule reads an HTTP request's body and could apply to this one (its
   * connection, caller, method and path): the engine then reads the body before judging.
   */
  readsBody(stmt: Statement, ctx: MatchContext): boolean;
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
  const types = m.types ? new Set<string>(m.types) : undefined;
  const kinds = m.kinds ? new Set<string>(m.kinds) : undefined;
  const categories = m.categories ? new Set<string>(m.categories) : undefined;
  const tables = m.tables?.map(parseNamePattern);
  const functions = m.functions?.map(parseNamePattern);
  const regex = m.regex !== undefined ? new RegExp(m.regex, 'i') : undefined;
  const methods = m.methods ? new Set<string>(m.methods) : undefined;
  // A path pattern matches the path without its query, ignoring case (servers that do not
  // would otherwise serve /ADMIN past a rule about /admin); `*` is any run of characters.
  const paths = m.paths?.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i'));
  const mode = rule.action === 'allow' ? 'every' : 'any';
  const httpConditions = compileHttpConditions(m, mode);
  const commands = m.commands ? compileCommandGlobs(m.commands) : undefined;
  const git = m.git ? compileGitConditions(m.git, mode) : undefined;
  const forwarding = m.forwarding ? compileForwarding(m.forwarding) : undefined;

  // Where an unqualified table or function may live, for this session.
  // With no session search path given (policy probes, tests), block and review rules
  // match an unqualified name in any schema and allow rules read it in the default path.
  const tableCandidates = (ctx: MatchContext) => (t: { name: string }): readonly string[] | null => {
    const sp = ctx.searchPath;
    if (sp === null || (sp === undefined && mode === 'any')) return null;
    if (sp === undefined) return t.name.startsWith('pg_') ? ['pg_catalog', ...searchPath] : searchPath;
    // relations of pg_catalog are all named pg_*: other names cannot resolve there
    return t.name.startsWith('pg_') ? sp : sp.filter((x) => x !== 'pg_catalog');
  };
  const functionCandidates = (ctx: MatchContext) => (): readonly string[] | null =>
    ctx.searchPath === undefined ? (mode === 'any' ? null : ['pg_catalog', ...searchPath]) : ctx.searchPath;

  const matches = (s: Statement, ctx: MatchContext): boolean => {
    // Opaque statements are matched by block rules, and by rules that name them: `opaque`,
    // their kind, or (when only the functions they call make them opaque) those functions.
    // An exec command is opaque only in what its words mean (they are known exactly): a rule
    // whose `commands` globs name those words vouches for them.
    if (s.opaque && rule.action !== 'block' && !m.opaque && !kinds?.has(s.kind) && !(functions && s.opaqueByFunctions) && !(commands && s.ssh)) return false;
    // Forwarding is allowed only by a rule that names it; block and review rules match it as any statement.
    if (s.forward && rule.action === 'allow' && !forwarding) return false;
    if (!scoped(ctx)) return false;
    if (kinds && !kinds.has(s.kind)) return false;
    if (categories && !categories.has(s.category)) return false;
    if (m.noWhere && !s.noWhere) return false;
    if (m.copyProgram && !s.copy?.program) return false;
    if (m.opaque && !s.opaque) return false;
    if (tables && !setMatches(tables, s.tables, mode, tableCandidates(ctx))) return false;
    if (functions) {
      // An allow rule naming functions vouches for the database-defined ones a statement
      // calls (built-ins it may also call are the target's own): all of them must match.
      const refs = mode === 'every' && s.userFunctions?.length ? s.userFunctions : s.functions;
      if (!setMatches(functions, refs, mode, functionCandidates(ctx))) return false;
    }
    if (!requestLine(s)) return false;
    if (httpConditions && !(s.http && httpConditions(s.http))) return false;
    if (commands && !(s.ssh && commands(s.ssh.argv))) return false;
    if (git && !(s.git && git(s.git))) return false;
    if (forwarding && !(s.forward && forwarding(s.forward))) return false;
    if (regex && !regex.test(ctx.text)) return false;
    return true;
  };
  // who asks, where: the conditions every rule checks first
  const scoped = (ctx: MatchContext): boolean => {
    if (connections && !connections.some((r) => r.test(ctx.connection))) return false;
    // A type not known: block and review rules match, allow rules do not (the safe way).
    if (types && !(ctx.connectionType === undefined ? mode === 'any' : types.has(ctx.connectionType))) return false;
    if (users && !users.some((r) => r.test(ctx.identity.name) || r.test(ctx.identity.subject))) return false;
    if (groups && !groups.some((r) => ctx.identity.groups.some((g) => r.test(g)))) return false;
    return true;
  };
  const requestLine = (s: Statement): boolean => {
    if (methods && !(s.http && methods.has(s.http.method))) return false;
    if (paths && !(s.http && paths.some((r) => r.test(s.http!.path.split('?')[0]!)))) return false;
    return true;
  };
  const readsBody = (s: Statement, ctx: MatchContext): boolean => m.body !== undefined && scoped(ctx) && requestLine(s);
  return { rule, usesUsers: users !== undefined, usesRegex: regex !== undefined, matches, readsBody };
}

/**
 * `any`: some name matches some pattern, an unqualified one in some schema it could
 * resolve to. `every`: there is a name and each matches, an unqualified one in every
 * schema it could resolve to. Candidates null: the schema is not known at all.
 */
function setMatches<T extends { schema?: string; name: string }>(
  patterns: NamePattern[],
  refs: readonly T[],
  mode: 'any' | 'every',
  candidates: (ref: T) => readonly string[] | null,
): boolean {
  const some = (ref: { schema?: string; name: string }) => patterns.some((p) => matchName(p, ref));
  const resolved = (ref: T, each: 'some' | 'every'): boolean => {
    if (ref.schema !== undefined) return some(ref);
    const schemas = candidates(ref);
    if (schemas === null) {
      // unknown search path: in any schema (any), or only by a pattern with no schema (every)
      return each === 'some' ? some(ref) : patterns.some((p) => p.schema === undefined && p.name.test(ref.name));
    }
    const at = (schema: string) => some({ schema, name: ref.name });
    return each === 'some' ? schemas.some(at) : schemas.length > 0 && schemas.every(at);
  };
  if (mode === 'any') return refs.some((ref) => resolved(ref, 'some'));
  return refs.length > 0 && refs.every((ref) => resolved(ref, 'every'));
}
