// What an agent is told when the pipeline says no. The Postgres door answers refusals as
// errors (`warden: blocked: ...`, `HINT: review <id>`, SQLSTATE 28P01/42501 at admission);
// here they become tool results whose text says what happened and what the agent may do.
// Nothing ran in any of these cases: the pipeline refuses before forwarding.

export type Refusal =
  | { kind: 'blocked'; reason: string }
  | { kind: 'review'; reviewId: string; message: string }
  | { kind: 'access'; reason: string }
  | { kind: 'auth'; reason: string }
  | { kind: 'sql'; message: string; code: string | null; detail: string | null; hint: string | null };

interface PgErrorLike {
  message?: string;
  code?: string;
  hint?: string;
  detail?: string;
}

export function classifyPgError(e: unknown): Refusal {
  const err = (e ?? {}) as PgErrorLike;
  const message = err.message ?? String(e);
  const review = /^review\s+(\S+)/.exec(err.hint ?? '');
  if (review && message.startsWith('warden: ')) return { kind: 'review', reviewId: review[1]!, message: message.slice('warden: '.length) };
  if (message.startsWith('warden: blocked: ')) return { kind: 'blocked', reason: message.slice('warden: blocked: '.length) };
  if (err.code === '42501' && /connection/.test(message) && !message.startsWith('permission denied')) return { kind: 'access', reason: message };
  if (err.code === '28P01' || err.code === '28000') return { kind: 'auth', reason: message };
  if (/^no postgres connection named/.test(message)) return { kind: 'access', reason: message };
  return { kind: 'sql', message, code: err.code ?? null, detail: err.detail ?? null, hint: err.hint ?? null };
}

/** The text of a refusal for the agent (review results are built by the run tool). */
export function refusalText(r: Refusal, connection: string): string {
  switch (r.kind) {
    case 'blocked':
      return `Blocked by Warden policy on "${connection}": ${r.reason}. Nothing ran. Do not retry the same statement; change it to fit the policy, or ask a person to change the rule.`;
    case 'access':
      return `No access to "${connection}": ${r.reason}. Nothing ran. Use list_connections to see the connections you may use, or request_access to ask for a time window on this one.`;
    case 'auth':
      return `Warden refused the credential: ${r.reason}. Nothing ran. Log in again (a fresh token) and retry.`;
    case 'review':
      return `Held for review ${r.reviewId}: ${r.message}`;
    case 'sql': {
      const extra = [r.detail && `DETAIL: ${r.detail}`, r.hint && `HINT: ${r.hint}`].filter(Boolean).join('\n');
      return `The database returned an error${r.code ? ` (SQLSTATE ${r.code})` : ''}: ${r.message}${extra ? `\n${extra}` : ''}\nFix the statement and try again (describe_connection shows tables and columns).`;
    }
  }
}
