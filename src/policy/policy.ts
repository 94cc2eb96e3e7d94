// The rule engine: a command's classification in, one decision out.
//
// How a command is judged:
//  - every statement, nested ones included (CTE writes, EXPLAIN ANALYZE targets, PREPARE
//    and EXECUTE bodies), is judged on its own; the strictest wins: block > review > allow;
//  - per statement, the connection's rules are tried first, then the global rules; the
//    first rule that matches decides;
//  - a statement that cannot be seen through (unparseable, DO, dynamic SQL, EXECUTE of an
//    unknown prepared statement) that no rule names gets the connection's onUnknown
//    (default review) — never allow by default;
//  - a forwarded connection (ssh -L, -R, -A) that no rule matches is blocked: only an allow
//    rule that names it (`forwarding:`) lets it through;
//  - a parsed statement that no rule matches is ALLOWED: being here means the access
//    module already let this identity use this connection, and rules are the guardrails
//    on top. A deny-by-default connection ends its rules with `{ match: {}, action: block }`.
// Decisions are cached by (connection, rules, identity groups [and user], normalized text).
import type { Identity } from '../identity/types.ts';
import { Lru } from '../sql/lru.ts';
import { flattenStatements, formatName, type Classification, type Statement } from '../sql/types.ts';
import { compileRule, type CompiledRule, type CompileOptions } from './match.ts';
import { classifyHttp } from './http-commands.ts';
import { describeForward } from './ssh-forwarding.ts';
import type { ReviewSpec, Rule, RuleAction } from './rule-schema.ts';

export type Action = RuleAction;

export interface PolicyConnection {
  name: string;
  /** postgres, mysql: what `types:` rules match */
  type?: string;
  /** what statements that cannot be seen through get when no rule names them (default review) */
  onUnknown?: Action;
  /** the connection's own rules, tried before the global ones (parsed by rulesSchema) */
  rules?: readonly Rule[];
}

export interface DecideInput {
  identity: Identity;
  connection: PolicyConnection;
  command: { text: string; params?: (string | null)[] };
  classification: Classification;
  /** the schemas unqualified names resolve to in this session (see MatchContext.searchPath) */
  searchPath?: readonly string[] | null;
}

export interface StatementDecision {
  kind: Statement['kind'];
  category: Statement['category'];
  tables: string[];
  functions: string[];
  opaque: boolean;
  action: Action;
  rule?: string;
  reason: string;
}

export interface PolicyDecision {
  action: Action;
  /** the rule behind the deciding statement's decision, when a rule decided */
  rule?: string;
  /** why, in words fit for the client and the record (a rule's message when it has one) */
  reason: string;
  /** approvers for a review, from the deciding rule */
  review?: ReviewSpec;
  statements: StatementDecision[];
}

export interface Policy {
  decide(input: DecideInput): PolicyDecision;
  /** forget cached decisions (after rules change through the API) */
  clearCache(): void;
  /** whether a rule that could apply to this HTTP request (its caller, method, path) reads its body */
  readsHttpBody(input: { identity: Identity; connection: PolicyConnection; method: string; path: string }): boolean;
}

export interface PolicyOptions extends CompileOptions {
  /** cached decisions kept (default 10000; 0 disables) */
  cacheSize?: number;
}

const RANK: Record<Action, number> = { allow: 0, review: 1, block: 2 };

export function compilePolicy(rules: readonly Rule[], opts: PolicyOptions = {}): Policy {
  const global = rules.map((r) => compileRule(r, opts));
  // a connection's rules are compiled once per rules array (config reloads bring new arrays)
  const perConnection = new WeakMap<readonly Rule[], { compiled: CompiledRule[]; id: number }>();
  let nextId = 1;
  const cache = new Lru<string, PolicyDecision>(opts.cacheSize ?? 10_000);

  const connectionRules = (list: readonly Rule[] | undefined) => {
    if (!list || list.length === 0) return { compiled: [] as CompiledRule[], id: 0 };
    let entry = perConnection.get(list);
    if (!entry) {
      entry = { compiled: list.map((r) => compileRule(r, opts)), id: nextId++ };
      perConnection.set(list, entry);
    }
    return entry;
  };

  const decide = (input: DecideInput): PolicyDecision => {
    const { identity, connection, command, classification } = input;
    const conn = connectionRules(connection.rules);
    const chain = conn.compiled.length ? [...conn.compiled, ...global] : global;
    const onUnknown = connection.onUnknown ?? 'review';

    // The cache key holds everything a rule can look at. Regex rules read literals, so
    // with one in play the key is the exact text; EXECUTE depends on the session: no cache.
    let key: string | undefined;
    if (!classification.hasExecute && classification.key !== '' && !classification.targetDependent) {
      const sp = input.searchPath === undefined ? '' : input.searchPath === null ? '\u0002' : input.searchPath.join('\u0003');
      const who = chain.some((r) => r.usesUsers) ? `${identity.subject}\u0000${identity.name}` : '';
      // (with the key too: the same text can be classified apart, a shell line and an SFTP operation)
      const what = chain.some((r) => r.usesRegex) ? `${classification.key}\u0000${command.text}` : classification.key;
      key = `${connection.name}\u0000${connection.type ?? ''}\u0000${onUnknown}\u0000${conn.id}\u0000${identity.groups.join('\u0001')}\u0000${who}\u0000${sp}\u0000${what}`;
      const hit = cache.get(key);
      if (hit) return hit;
    }

    const ctx = { identity, connection: connection.name, connectionType: connection.type, text: command.text, searchPath: input.searchPath };
    const statements: StatementDecision[] = [];
    let decisive: StatementDecision | undefined;
    let decisiveRule: Rule | undefined;
    // The statements of one text run in order: once one may have changed the search path
    // (SET, set_config, anything opaque), the names of the ones after it resolve in a path
    // not known now.
    let pathChanged = false;
    for (const top of classification.statements) {
      const units = flattenStatements([top]);
      const here = pathChanged && ctx.searchPath !== undefined ? { ...ctx, searchPath: null } : ctx;
      for (const s of units) {
        const rule = chain.find((r) => r.matches(s, here))?.rule;
        const d = judge(s, rule, onUnknown);
        statements.push(d);
        if (!decisive || RANK[d.action] > RANK[decisive.action]) {
          decisive = d;
          decisiveRule = rule;
        }
        if (s.opaque || s.effect?.searchPath) pathChanged = true;
      }
    }
    const decision: PolicyDecision = decisive
      ? {
          action: decisive.action,
          ...(decisive.rule !== undefined ? { rule: decisive.rule } : {}),
          reason: decisive.reason,
          ...(decisive.action === 'review' && decisiveRule?.review ? { review: decisiveRule.review } : {}),
          statements,
        }
      : { action: 'allow', reason: 'the command has no statements', statements };
    if (key !== undefined) cache.set(key, decision);
    return decision;
  };

  const readsHttpBody = (input: { identity: Identity; connection: PolicyConnection; method: string; path: string }): boolean => {
    const s = classifyHttp(`${input.method} ${input.path}`).statements[0]!;
    const chain = [...connectionRules(input.connection.rules).compiled, ...global];
    const ctx = { identity: input.identity, connection: input.connection.name, connectionType: input.connection.type, text: '' };
    return chain.some((r) => r.readsBody(s, ctx));
  };

  return { decide, clearCache: () => cache.clear(), readsHttpBody };
}

function judge(s: Statement, rule: Rule | undefined, onUnknown: Action): StatementDecision {
  const base = {
    kind: s.kind,
    category: s.category,
    tables: s.tables.map(formatName),
    functions: s.functions.map(formatName),
    opaque: s.opaque,
  };
  if (rule) {
    const reason = rule.message ?? `${rule.action === 'allow' ? 'allowed' : rule.action === 'block' ? 'blocked' : 'held for review'} by rule "${rule.name}" (${describe(s)})`;
    return { ...base, action: rule.action, rule: rule.name, reason };
  }
  if (s.forward) {
    // forwarding carries traffic no command names: off unless a rule allows it
    return { ...base, action: 'block', reason: `forwarding (${describeForward(s.forward)}) is off: no rule allows it` };
  }
  if (s.opaque) {
    return { ...base, action: onUnknown, reason: `${s.opaqueReason ?? 'the statement cannot be classified'}; the connection's onUnknown is ${onUnknown}` };
  }
  return { ...base, action: 'allow', reason: 'no rule matched (allowed by default once access is granted)' };
}

function describe(s: Statement): string {
  if (s.forward) return `forwarding ${describeForward(s.forward)}`;
  const parts: string[] = [s.kind];
  if (s.tables.length) parts.push(`on ${s.tables.map(formatName).join(', ')}`);
  if (s.noWhere) parts.push('without WHERE');
  return parts.join(' ');
}
