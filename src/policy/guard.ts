// The guard of the session pipeline: classifies each command for its connection's
// protocol and asks the policy for a decision. What cannot be classified falls to
// the connection's onUnknown (default review), never to allow. A review decision goes
// to the review desk, which either hands out an approval (once) or holds the command.
import type { Guard, SessionGuard, Verdict } from '../session/session.ts';
import type { Command, FunctionFacts, SessionInfo, TargetFacts } from '../session/types.ts';
import { checkAccess, type AccessList } from '../session/access.ts';
import { parseDuration } from '../config/duration.ts';
import type { HoldAnswer, HoldRequest, ReviewGate } from '../reviews/desk.ts';
import { classifyPostgres } from '../sql/postgres.ts';
import { classifyMysql } from '../sql/mysql.ts';
import { classifyHttp } from './http-commands.ts';
import { classifyFileOps, classifySsh } from './ssh-commands.ts';
import { classifyForward } from './ssh-forwarding.ts';
import { classifyGit } from './git-commands.ts';
import { classifyExec } from './exec-commands.ts';
import { mysqlFunctionFacts } from '../sql/mysql-functions.ts';
import { Encoded } from '../audit/canonical.ts';
import { PreparedStatements } from '../sql/prepared.ts';
import type { Classification } from '../sql/types.ts';
import type { Policy, PolicyConnection, PolicyDecision } from './policy.ts';
import { annotateFunctions, callsFunctions, opaqueCommand } from './target-functions.ts';

export interface GuardConnection extends PolicyConnection {
  type: string;
  /** who may use it without an access request (checked per command for grant holders) */
  access?: AccessList;
  /** `wait`: hold a command needing review this long for an approval (e.g. 30s) */
  reviews?: { wait?: string };
}

// Decisions come from the policy's cache, so their verdicts can be cached alongside.
const verdicts = new WeakMap<PolicyDecision, Verdict>();

function verdictOf(d: PolicyDecision): Verdict {
  const cached = verdicts.get(d);
  if (cached) return cached;
  const facts = {
    statements: d.statements.map((s) => ({ kind: s.kind, category: s.category, tables: s.tables, functions: s.functions, action: s.action, ...(s.rule ? { rule: s.rule } : {}) })),
  };
  const v: Verdict = { action: d.action, reason: d.action === 'allow' ? undefined : d.reason, rule: d.rule, facts, factsEncoded: new Encoded(facts) };
  verdicts.set(d, v);
  return v;
}

export class PolicyGuard implements Guard {
  constructor(
    private readonly policy: Policy,
    private readonly connection: (name: string) => GuardConnection | undefined,
    /** without a desk a review verdict holds the command with no way to approve it */
    private readonly desk?: ReviewGate,
  ) {}

  open(session: SessionInfo, target?: TargetFacts): SessionGuard {
    const conn = this.connection(session.connection);
    if (!conn) return { judge: () => ({ action: 'block', reason: `connection "${session.connection}" no longer exists` }) };
    // Groups do not change within a session: decide once whether it rests on a grant.
    const grant = { until: 0, needed: !!(conn.access && this.desk && !checkAccess(session.identity, { name: conn.name, access: conn.access }).allowed) };
    const classifyText = classifierFor(conn.type);
    if (!classifyText) {
      // No classifier for this protocol yet: everything is unknown.
      const action = conn.onUnknown ?? 'review';
      const v: Verdict = { action, reason: action === 'allow' ? undefined : `no classifier for ${conn.type} commands (onUnknown: ${action})` };
      return { judge: (cmd: Command) => this.withGrant(session, conn, grant, () => (v.action === 'review' ? this.review(session, conn, cmd, v, undefined) : v)) };
    }
    const prepared = new PreparedStatements();
    const decide = (cmd: Command, classification: Classification): PolicyDecision =>
      this.policy.decide({ identity: session.identity, connection: conn, command: cmd, classification, searchPath: cmd.searchPath });
    // What the command runs, as the target will run it: database-defined functions make a
    // statement opaque unless a rule names them (their bodies cannot be seen).
    // Without facts from the engine, MySQL's built-in names are known (sql/mysql-functions.ts).
    const functions = target ?? (conn.type === 'mysql' ? { functions: () => mysqlFunctionFacts } : undefined);
    const classify = (cmd: Command): Classification | Promise<Classification> => {
      if (cmd.opaque !== undefined) return opaqueCommand(cmd.opaque);
      const c = prepared.resolve(classifyText(cmd));
      if (!functions || !callsFunctions(c)) return c;
      const facts = functions.functions();
      return facts instanceof Promise ? facts.then((f: FunctionFacts) => annotateFunctions(c, f)) : annotateFunctions(c, facts);
    };
    const judge = (cmd: Command): Verdict | Promise<Verdict> => {
      const c = classify(cmd);
      const verdict = (classification: Classification): Verdict | Promise<Verdict> => {
        const d = decide(cmd, classification);
        const v = verdictOf(d);
        return v.action === 'review' ? this.review(session, conn, cmd, v, d) : v;
      };
      return c instanceof Promise ? c.then(verdict) : verdict(c);
    };
    // A statement about to be prepared: would running it be blocked? (No review is opened
    // for it: a review binds the exact command with its parameters, known at Execute.)
    const preview = (cmd: Command): Verdict | Promise<Verdict> => {
      const c = classify(cmd);
      return c instanceof Promise ? c.then((x) => verdictOf(decide(cmd, x))) : verdictOf(decide(cmd, c));
    };
    return {
      judge: (cmd: Command) => this.withGrant(session, conn, grant, () => judge(cmd)),
      preview,
    };
  }

  /**
   * A caller admitted through an approved access request (not in the connection's
   * groups) keeps using it only while the window is open: checked before each command,
   * from a cached end time, so the store is asked again only once the window ran out.
   */
  private withGrant(session: SessionInfo, conn: GuardConnection, state: { until: number; needed: boolean }, next: () => Verdict | Promise<Verdict>): Verdict | Promise<Verdict> {
    if (!state.needed || Date.now() < state.until) return next();
    return this.desk!.activeGrant(session.identity, conn.name).then((g) => {
      if (!g) return { action: 'block', reason: `your access window on "${conn.name}" has ended; ask again with \`warden access request ${conn.name} --for 1h --reason ...\`` } satisfies Verdict;
      state.until = g.expiresAt;
      return next();
    });
  }

  private async review(session: SessionInfo, conn: GuardConnection, cmd: Command, v: Verdict, d: PolicyDecision | undefined): Promise<Verdict> {
    if (!this.desk) return v;
    const req: HoldRequest = {
      identity: session.identity,
      connection: conn.name,
      sessionId: session.id,
      // A forward's review binds an empty parameter list: an exec of the same words (which has
      // none) is another command, so neither can use the other's approval.
      command: cmd.params ? { text: cmd.text, params: cmd.params } : cmd.forward ? { text: cmd.text, params: [] } : { text: cmd.text },
      rule: v.rule ?? null,
      reason: v.reason ?? 'this command needs approval',
      ...(d?.review ? { spec: d.review } : {}),
    };
    let answer: HoldAnswer = await this.desk.hold(req);
    const wait = conn.reviews?.wait;
    if (answer.action === 'review' && wait) answer = await this.desk.awaitApproval(req, answer.review.id, parseDuration(wait), cmd.signal);
    if (answer.action === 'allow') return { ...v, action: 'allow', reason: `approved in review ${answer.review.id}`, reviewId: answer.review.id };
    return { ...v, reason: answer.message, reviewId: answer.review.id };
  }
}

/** The classifier of a connection type; undefined when Warden has none for it. */
export function classifierFor(type: string): ((cmd: Command) => Classification) | undefined {
  switch (type) {
    case 'postgres':
      return (cmd) => classifyPostgres(cmd.text);
    case 'mysql':
      return (cmd) =>
        cmd.syntax === null
          ? opaqueCommand('how the target reads text in this session is not known now (its sql_mode or character set changed and could not be read back)')
          : classifyMysql(cmd.text, cmd.syntax);
    case 'http':
      return (cmd) => classifyHttp(cmd.text, cmd.http);
    case 'ssh':
      return (cmd) => (cmd.forward ? classifyForward(cmd.forward) : cmd.file ? classifyFileOps(cmd.file.ops) : classifySsh(cmd.text));
    case 'git':
      return (cmd) => classifyGit(cmd.text, cmd.git);
    case 'exec':
      return (cmd) => classifyExec(cmd.argv ?? []);
    default:
      return undefined;
  }
}
