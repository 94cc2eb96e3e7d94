// The guard of the session pipeline: classifies each command for its connection's
// protocol and asks the policy for a decision. What cannot be classified falls to
// the connection's onUnknown (default review), never to allow.
import type { Guard, SessionGuard, Verdict } from '../session/session.ts';
import type { Command, SessionInfo } from '../session/types.ts';
import { classifyPostgres } from '../sql/postgres.ts';
import { PreparedStatements } from '../sql/prepared.ts';
import type { Policy, PolicyConnection, PolicyDecision } from './policy.ts';

export interface GuardConnection extends PolicyConnection {
  type: string;
}

// Decisions come from the policy's cache, so their verdicts can be cached alongside.
const verdicts = new WeakMap<PolicyDecision, Verdict>();

function verdictOf(d: PolicyDecision): Verdict {
  const cached = verdicts.get(d);
  if (cached) return cached;
  const facts = {
    statements: d.statements.map((s) => ({ kind: s.kind, category: s.category, tables: s.tables, functions: s.functions, action: s.action, ...(s.rule ? { rule: s.rule } : {}) })),
  };
  const v: Verdict = { action: d.action, reason: d.action === 'allow' ? undefined : d.reason, rule: d.rule, facts };
  verdicts.set(d, v);
  return v;
}

export class PolicyGuard implements Guard {
  constructor(
    private readonly policy: Policy,
    private readonly connection: (name: string) => GuardConnection | undefined,
  ) {}

  open(session: SessionInfo): SessionGuard {
    const conn = this.connection(session.connection);
    if (!conn) return { judge: () => ({ action: 'block', reason: `connection "${session.connection}" no longer exists` }) };
    if (conn.type !== 'postgres') {
      // No classifier for this protocol yet: everything is unknown.
      const action = conn.onUnknown ?? 'review';
      return { judge: () => ({ action, reason: action === 'allow' ? undefined : `no classifier for ${conn.type} commands (onUnknown: ${action})` }) };
    }
    const prepared = new PreparedStatements();
    return {
      judge: (cmd: Command) => {
        const classification = prepared.resolve(classifyPostgres(cmd.text));
        return verdictOf(this.policy.decide({ identity: session.identity, connection: conn, command: cmd, classification }));
      },
    };
  }
}
