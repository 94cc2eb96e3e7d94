// What a review is, as the desk, the API and the CLI see it.
import { createHash } from 'node:crypto';

export type ReviewKind = 'command' | 'access';
export type ReviewStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'used';

export interface Vote {
  voter: string;
  voterSubject: string;
  vote: 'approve' | 'reject';
  comment: string | null;
  at: string;
}

export interface Review {
  id: string;
  kind: ReviewKind;
  status: ReviewStatus;
  connection: string;
  /** command reviews: the exact text and parameters that will run on approval */
  command: string | null;
  params: (string | null)[] | null;
  commandHash: string | null;
  /** why it was held (command) or why access is asked for (access) */
  reason: string;
  rule: string | null;
  requester: { kind: string; subject: string; name: string; groups: string[] };
  sessionId: string | null;
  groups: string[];
  approvalsNeeded: number;
  approvals: number;
  votes: Vote[];
  /** access requests: the window, in ms, that starts on approval */
  durationMs: number | null;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  usedAt: string | null;
}

/**
 * The binding of a command review: connection, the exact text (not the normalized
 * statement: literals are what an approver approved) and the parameters. Lengths are
 * prefixed so no two different triples serialize alike.
 */
export function commandHash(connection: string, text: string, params: readonly (string | null)[] | undefined): string {
  const h = createHash('sha256');
  const p = JSON.stringify(params ?? null);
  h.update(`${connection.length}:${connection}\n${Buffer.byteLength(text)}:`);
  h.update(text);
  h.update(`\n${p.length}:${p}`);
  return h.digest('hex');
}
