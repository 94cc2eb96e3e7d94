// Reviews in the store. Every state change is one conditional UPDATE (`WHERE status = ...`)
// so two gateways, or two sessions, can never both win: an approval is consumed once,
// a review is decided once, and the open review of a command is unique (`open_key`).
import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Store } from '../store/index.ts';
import type { ReviewsTable, ReviewVotesTable } from '../store/schema.ts';
import type { Review, ReviewKind, ReviewStatus, Vote } from './types.ts';

/** What a new review is made of; the store adds its id, status, votes and times. */
export type NewReview = Pick<
  Review,
  'kind' | 'connection' | 'command' | 'params' | 'commandHash' | 'reason' | 'rule' | 'requester' | 'sessionId' | 'groups' | 'approvalsNeeded' | 'durationMs'
> & { timeoutMs: number };

const openKey = (hash: string, subject: string) => `${hash}:${subject}`;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class ReviewStore {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  /** Insert a review; for a command, unless an open one exists for it (then that one is returned). */
  async create(r: NewReview, now = Date.now()): Promise<{ review: Review; created: boolean }> {
    const id = 'r' + randomBytes(6).toString('hex');
    const key = r.kind === 'command' && r.commandHash ? openKey(r.commandHash, r.requester.subject) : null;
    const res = await this.db
      .insertInto('reviews')
      .values({
        id, kind: r.kind, status: 'pending', connection: r.connection, command_hash: r.commandHash, open_key: key,
        command: r.command, params: r.params ? JSON.stringify(r.params) : null, reason: r.reason, rule: r.rule,
        requester_subject: r.requester.subject, requester_name: r.requester.name, requester: JSON.stringify(r.requester),
        session_id: r.sessionId, groups: JSON.stringify(r.groups), approvals_needed: r.approvalsNeeded, timeout_ms: r.timeoutMs,
        duration_ms: r.durationMs, created_at: now, expires_at: now + r.timeoutMs, decided_at: null, used_at: null,
      })
      .onConflict((oc) => oc.column('open_key').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 1n) === 0 && key) {
      const existing = await this.db.selectFrom('reviews').selectAll().where('open_key', '=', key).executeTakeFirst();
      if (existing) return { review: await this.hydrate(existing), created: false };
      // it closed between our insert and our read: try once more
      return this.create(r, now);
    }
    return { review: (await this.get(id))!, created: true };
  }

  /** The open (pending or approved) review of this command by this requester, if any. */
  async findOpen(hash: string, subject: string): Promise<Review | null> {
    const row = await this.db.selectFrom('reviews').selectAll().where('open_key', '=', openKey(hash, subject)).executeTakeFirst();
    return row ? this.hydrate(row) : null;
  }

  async get(id: string): Promise<Review | null> {
    const row = await this.db.selectFrom('reviews').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.hydrate(row) : null;
  }

  async list(q: { status?: ReviewStatus; kind?: ReviewKind; limit: number }): Promise<Review[]> {
    let query = this.db.selectFrom('reviews').selectAll().orderBy('created_at', 'desc').orderBy('id').limit(q.limit);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.kind) query = query.where('kind', '=', q.kind);
    const rows = await query.execute();
    return Promise.all(rows.map((r) => this.hydrate(r)));
  }

  /** Record a vote; false when this voter already voted on this review. */
  async vote(id: string, v: { subject: string; name: string; vote: 'approve' | 'reject'; comment: string | null }, now = Date.now()): Promise<boolean> {
    const res = await this.db
      .insertInto('review_votes')
      .values({ review_id: id, voter_subject: v.subject, voter_name: v.name, vote: v.vote, comment: v.comment, at: now })
      .onConflict((oc) => oc.columns(['review_id', 'voter_subject']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 1n) > 0;
  }

  async approvals(id: string): Promise<number> {
    const row = await this.db.selectFrom('review_votes').select((eb) => eb.fn.countAll<number>().as('n')).where('review_id', '=', id).where('vote', '=', 'approve').executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * pending -> approved. A command approval stays usable for the review's timeout from
   * now; an access approval opens the requested window from now.
   */
  async approve(id: string, now = Date.now()): Promise<boolean> {
    const r = await this.db.selectFrom('reviews').select(['kind', 'timeout_ms', 'duration_ms']).where('id', '=', id).executeTakeFirst();
    if (!r) return false;
    const until = now + (r.kind === 'access' ? (r.duration_ms ?? 0) : r.timeout_ms);
    return this.transition(id, 'pending', { status: 'approved', decided_at: now, expires_at: until }, now);
  }

  /** pending -> rejected; the command's open slot is freed so running it again asks anew. */
  reject(id: string, now = Date.now()): Promise<boolean> {
    return this.transition(id, 'pending', { status: 'rejected', decided_at: now, open_key: null }, now);
  }

  /** approved -> used, exactly once: the caller that gets true runs the command. */
  consume(id: string, now = Date.now()): Promise<boolean> {
    return this.transition(id, 'approved', { status: 'used', used_at: now, open_key: null }, now);
  }

  /** Close what has run out of time (pending or approved); returns the ids closed. */
  async expireDue(now = Date.now()): Promise<string[]> {
    const due = await this.db.selectFrom('reviews').select('id').where('status', 'in', ['pending', 'approved']).where('expires_at', '<=', now).execute();
    const closed: string[] = [];
    for (const { id } of due) {
      const res = await this.db
        .updateTable('reviews')
        .set({ status: 'expired', open_key: null })
        .where('id', '=', id)
        .where('status', 'in', ['pending', 'approved'])
        .where('expires_at', '<=', now)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) closed.push(id);
    }
    return closed;
  }

  /** The approved access window of this requester on this connection that ends last, if open now. */
  async activeGrant(subject: string, connection: string, now = Date.now()): Promise<{ id: string; expiresAt: number } | null> {
    const row = await this.db
      .selectFrom('reviews')
      .select(['id', 'expires_at'])
      .where('requester_subject', '=', subject)
      .where('connection', '=', connection)
      .where('kind', '=', 'access')
      .where('status', '=', 'approved')
      .where('expires_at', '>', now)
      .orderBy('expires_at', 'desc')
      .executeTakeFirst();
    return row ? { id: row.id, expiresAt: row.expires_at } : null;
  }

  private async transition(id: string, from: ReviewStatus, set: Partial<Selectable<ReviewsTable>>, now: number): Promise<boolean> {
    const res = await this.db.updateTable('reviews').set(set).where('id', '=', id).where('status', '=', from).where('expires_at', '>', now).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  private async hydrate(row: Selectable<ReviewsTable>): Promise<Review> {
    const votes = await this.db.selectFrom('review_votes').selectAll().where('review_id', '=', row.id).orderBy('at').execute();
    return toReview(row, votes);
  }
}

function toReview(row: Selectable<ReviewsTable>, votes: Selectable<ReviewVotesTable>[]): Review {
  const v: Vote[] = votes.map((x) => ({ voter: x.voter_name, voterSubject: x.voter_subject, vote: x.vote as Vote['vote'], comment: x.comment, at: iso(x.at)! }));
  return {
    id: row.id,
    kind: row.kind as ReviewKind,
    status: row.status as ReviewStatus,
    connection: row.connection,
    command: row.command,
    params: row.params ? (JSON.parse(row.params) as (string | null)[]) : null,
    commandHash: row.command_hash,
    reason: row.reason,
    rule: row.rule,
    requester: JSON.parse(row.requester) as Review['requester'],
    sessionId: row.session_id,
    groups: JSON.parse(row.groups) as string[],
    approvalsNeeded: row.approvals_needed,
    approvals: v.filter((x) => x.vote === 'approve').length,
    votes: v,
    durationMs: row.duration_ms,
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at)!,
    decidedAt: iso(row.decided_at),
    usedAt: iso(row.used_at),
  };
}
