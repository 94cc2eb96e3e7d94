// What an agent is told when the pipeline says no, or the target fails: tool results whose
// text says what happened and what the agent may do. The refusals come as data from the
// in-process executor; nothing ran in any refusal (the pipeline refuses before forwarding).
import type { ExecRefusal } from '../gateway/executor.ts';

export function refusalText(r: ExecRefusal, connection: string): string {
  switch (r.kind) {
    case 'blocked':
      return `Blocked by Warden policy on "${connection}": ${r.message}. Nothing ran. Do not retry the same statement; change it to fit the policy, or ask a person to change the rule.`;
    case 'access_denied':
    case 'unknown_connection':
      return `No access to "${connection}": ${r.message}. Nothing ran. Use list_connections to see the connections you may use, or request_access to ask for a time window on this one.`;
    case 'bad_credential':
    case 'rate_limited':
      return `Warden refused the credential: ${r.message}. Nothing ran. Log in again (a fresh token) and retry.`;
    case 'review':
      return `Held for review ${r.reviewId}: ${r.message}`;
    case 'timeout':
      return `${r.message}. Nothing more is returned; narrow the statement (LIMIT, WHERE) and retry.`;
    case 'unreachable':
      return `Warden could not run the statement on "${connection}": ${r.message}. Try again later, or tell a person the target seems down.`;
    case 'target': {
      const extra = [r.detail && `DETAIL: ${r.detail}`, r.hint && `HINT: ${r.hint}`].filter(Boolean).join('\n');
      return `The database returned an error${r.code ? ` (code ${r.code})` : ''}: ${r.message}${extra ? `\n${extra}` : ''}\nFix the statement and try again (describe_connection shows tables and columns).`;
    }
  }
}
