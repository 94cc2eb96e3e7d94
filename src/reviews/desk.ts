// The review desk: holds risky commands for a human, takes votes, hands out an approved
// command exactly once, and grants time-window access. Every change is audited and sent
// to the webhooks. The guard (src/policy/guard.ts) asks it about held commands; the API
// and the CLI vote through it.
//
// Who may do what:
//  - approve: a member of one of the review's groups, or an admin (break-glass, audited like
//    any vote), who is not the requester (neither the same subject nor the same name); each
//    voter counts once; N distinct approvals approve;
//  - reject: any such approver (one veto closes it), or the requester (withdraws it);
//  - see: the requester, members of the review's groups, and the admin, auditor and
//    approver roles;
//  - local operator (CLI with --config, i.e. holding the data dir): counts as a member of
//    every approver group, never as the requester.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Identity } from '../identity/types.ts';
import type { AuditEventInput } from '../audit/types.ts';
import type { Store } from '../store/index.ts';
import { parseDuration } from '../config/duration.ts';
import type { ReviewsConfig } from './config.ts';
import { ReviewStore } from './store.ts';
import { commandHash, type Review, type ReviewKind, type ReviewStatus } from './types.ts';
import { Notifier } from './webhooks.ts';

export class ReviewError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface DeskConnection {
  name: string;
  access: { groups: string[]; users: string[] };
  reviews?: { approvers?: string[] };
}

export interface DeskDeps {
  store: Store;
  audit: { append(e: AuditEventInput, opts?: { durable?: boolean }): Promise<unknown> };
  config: ReviewsConfig;
  connection: (name: string) => DeskConnection | undefined;
  /** the gateway's HTTP URL, for "where to approve" (config reviews.url wins) */
  baseUrl: () => string;
  /** roles (auth.roles); default: by group name */
  hasRole?: (i: Identity, role: 'admin' | 'auditor' | 'approver') => boolean;
  /**
   * The connection's masker over a command's text: what leaves the gateway in a webhook
   * (a chat channel, a ticket) is masked like a result would be. Without it, webhooks
   * carry no command text at all.
   */
  maskCommand?: (connection: string, text: string) => string;
  log?: Logger;
}

export interface HoldRequest {
  identity: Identity;
  connection: string;
  sessionId: string | null;
  command: { text: string; params?: (string | null)[] };
  rule: string | null;
  reason: string;
  /** from the deciding rule; missing parts come from the connection and the reviews config */
  spec?: { groups?: string[]; approvals?: number; timeout?: string };
}

export type HoldAnswer = { action: 'allow'; review: Review } | { action: 'review'; review: Review; message: string };

/** What the guard needs from the desk. */
export interface ReviewGate {
  hold(req: HoldRequest): Promise<HoldAnswer>;
  /** wait until the review is decided or `ms` passed; then try to take an approval */
  /** wait up to `ms` for the review's decision; `signal` ends the wait early (the client cancelled) */
  awaitApproval(req: HoldRequest, reviewId: string, ms: number, signal?: AbortSignal): Promise<HoldAnswer>;
  activeGrant(identity: Identity, connection: string): Promise<{ id: string; expiresAt: number } | null>;
}

const SWEEP_MS = 10_000;
/** the change feed's event name (review ids start with r, so it never collides with one) */
const FEED = 'feed';

export class ReviewDesk implements ReviewGate {
  readonly reviews: ReviewStore;
  readonly notifier: Notifier;
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private readonly sweeper: NodeJS.Timeout;

  private readonly hasRole: NonNullable<DeskDeps['hasRole']>;

  constructor(private readonly deps: DeskDeps) {
    this.hasRole = deps.hasRole ?? ((i, role) => i.groups.includes('admin') || i.groups.includes(role));
    this.reviews = new ReviewStore(deps.store);
    this.notifier = new Notifier(deps.config.webhooks, deps.log, (hook, e, error) => {
      void this.audit('review.webhook_failed', 'system', e.review, { hook, event: e.type, error });
    });
    // Reviews expire (and say so to the webhooks) even when nobody looks at them.
    this.sweeper = setInterval(() => void this.expire().catch((e) => deps.log?.warn({ err: (e as Error).message }, 'review expiry sweep failed')), SWEEP_MS);
    this.sweeper.unref();
  }

  approveHow(id: string): { cli: string; api: string; console: string } {
    const base = (this.deps.config.url ?? this.deps.baseUrl()).replace(/\/+$/, '');
    return { cli: `warden reviews approve ${id}`, api: `${base}/api/v1/reviews/${id}/approve`, console: `${base}/reviews/${id}` };
  }

  /** Call `fn` on every review event this gateway writes (the console's live inbox); returns the unsubscribe. */
  watch(fn: (e: { type: string; id: string }) => void): () => void {
    this.changes.on(FEED, fn);
    return () => void this.changes.off(FEED, fn);
  }

  // -- held commands (the guard) --

  async hold(req: HoldRequest): Promise<HoldAnswer> {
    await this.expire();
    const hash = commandHash(req.connection, req.command.text, req.command.params);
    const open = await this.reviews.findOpen(hash, req.identity.subject);
    if (open?.status === 'approved') {
      const taken = await this.take(open, req.identity);
      if (taken) return taken;
    }
    const spec = this.specFor(req.connection, req.spec);
    const { review, created } = await this.reviews.create({
      kind: 'command', connection: req.connection, command: req.command.text, params: req.command.params ?? null, commandHash: hash,
      reason: req.reason, rule: req.rule, requester: who(req.identity), sessionId: req.sessionId,
      groups: spec.groups, approvalsNeeded: spec.approvals, timeoutMs: spec.timeoutMs, durationMs: null,
    });
    if (created) await this.event('review.created', req.identity.name, review);
    else if (review.status === 'approved') {
      // approved between our look and our insert: take it
      const taken = await this.take(review, req.identity);
      if (taken) return taken;
    }
    return { action: 'review', review, message: this.pendingMessage(review, req.reason) };
  }

  async awaitApproval(req: HoldRequest, reviewId: string, ms: number, signal?: AbortSignal): Promise<HoldAnswer> {
    const deadline = Date.now() + ms;
    let r = await this.reviews.get(reviewId);
    while (r && r.status === 'pending' && Date.now() < deadline && !signal?.aborted) {
      await this.changed(reviewId, Math.min(deadline - Date.now(), 1000), signal);
      r = await this.reviews.get(reviewId);
    }
    // The client gave up first: nothing runs, even if an approval came in the same moment;
    // the review stays as it is (approved, it is used by the same command sent again).
    if (r && signal?.aborted) return { action: 'review', review: r, message: `the command was cancelled while it waited for review ${r.id}; it was not run` };
    if (r?.status === 'approved') {
      const taken = await this.take(r, req.identity);
      if (taken) return taken;
    }
    if (!r) throw new Error(`review ${reviewId} vanished`);
    const waited = `waited ${Math.round(ms / 1000)}s`;
    if (r.status === 'rejected') return { action: 'review', review: r, message: `review ${r.id} was rejected${lastComment(r)}; the command was not run` };
    return { action: 'review', review: r, message: `${this.pendingMessage(r, req.reason)} (${waited}, status ${r.status})` };
  }

  private async take(r: Review, identity: Identity): Promise<HoldAnswer | null> {
    if (!(await this.reviews.consume(r.id))) return null;
    const used = (await this.reviews.get(r.id)) ?? r;
    await this.event('review.used', identity.name, used);
    return { action: 'allow', review: used };
  }

  private pendingMessage(r: Review, reason: string): string {
    const how = this.approveHow(r.id);
    const n = r.approvalsNeeded;
    return `${reason} — review ${r.id} needs ${n} approval${n === 1 ? '' : 's'} from ${r.groups.length === 1 ? 'group' : 'groups'} ${r.groups.join(', ')} ` +
      `(${r.approvals} so far, open until ${r.expiresAt}): ${how.cli}, or POST ${how.api}, or open ${how.console}; then run the same command again`;
  }

  private specFor(connection: string, spec: HoldRequest['spec']): { groups: string[]; approvals: number; timeoutMs: number } {
    const c = this.deps.config;
    return {
      groups: spec?.groups ?? this.deps.connection(connection)?.reviews?.approvers ?? c.approvers,
      approvals: spec?.approvals ?? c.approvals,
      timeoutMs: parseDuration(spec?.timeout ?? c.timeout),
    };
  }

  // -- time-window access --

  async requestAccess(identity: Identity, connection: string, durationMs: number, reason: string): Promise<Review> {
    const conn = this.deps.connection(connection);
    if (!conn) throw new ReviewError(404, `no connection named "${connection}"`);
    const max = parseDuration(this.deps.config.maxAccess);
    if (!(durationMs > 0) || durationMs > max) throw new ReviewError(400, `duration must be positive and at most ${this.deps.config.maxAccess} (reviews.maxAccess)`);
    if (!reason.trim()) throw new ReviewError(400, 'a reason is required');
    const spec = this.specFor(connection, undefined);
    const { review } = await this.reviews.create({
      kind: 'access', connection, command: null, params: null, commandHash: null, reason: reason.trim(), rule: null,
      requester: who(identity), sessionId: null, groups: spec.groups, approvalsNeeded: spec.approvals, timeoutMs: spec.timeoutMs, durationMs,
    });
    await this.event('review.created', identity.name, review);
    return review;
  }

  activeGrant(identity: Identity, connection: string): Promise<{ id: string; expiresAt: number } | null> {
    return this.reviews.activeGrant(identity.subject, connection);
  }

  // -- votes, lists (API and CLI) --

  async vote(id: string, voter: Identity, vote: 'approve' | 'reject', comment: string | null, opts: { operator?: boolean } = {}): Promise<Review> {
    await this.expire();
    const r = await this.reviews.get(id);
    if (!r || !this.canSee(voter, r, opts.operator)) throw new ReviewError(404, `no review ${id}`);
    if (r.status !== 'pending') throw new ReviewError(409, `review ${id} is ${r.status}; only a pending review can be ${vote === 'approve' ? 'approved' : 'rejected'}`);
    const own = voter.subject === r.requester.subject || voter.name === r.requester.name;
    const member = opts.operator || this.hasRole(voter, 'admin') || voter.groups.some((g) => r.groups.includes(g));
    if (vote === 'approve' && own) throw new ReviewError(403, 'the requester cannot approve their own review');
    if (!member && !(vote === 'reject' && own)) throw new ReviewError(403, `only members of ${r.groups.join(', ')} may ${vote} review ${id}`);
    if (!(await this.reviews.vote(id, { subject: voter.subject, name: voter.name, vote, comment }))) throw new ReviewError(409, `you have already voted on review ${id}`);
    if (vote === 'reject') {
      if (!(await this.reviews.reject(id))) throw new ReviewError(409, `review ${id} was closed meanwhile`);
      return this.decided(id, 'review.rejected', voter.name, comment);
    }
    const approvals = await this.reviews.approvals(id);
    if (approvals < r.approvalsNeeded) {
      const now = (await this.reviews.get(id))!;
      await this.event('review.voted', voter.name, now, comment);
      return now;
    }
    if (!(await this.reviews.approve(id))) throw new ReviewError(409, `review ${id} was closed meanwhile`);
    return this.decided(id, 'review.approved', voter.name, comment);
  }

  async list(viewer: Identity, q: { status?: ReviewStatus; kind?: ReviewKind; limit: number }, opts: { operator?: boolean } = {}): Promise<Review[]> {
    await this.expire();
    const all = await this.reviews.list({ ...q, limit: Math.max(q.limit, 1000) });
    return all.filter((r) => this.canSee(viewer, r, opts.operator)).slice(0, q.limit);
  }

  async get(viewer: Identity, id: string, opts: { operator?: boolean } = {}): Promise<Review | null> {
    await this.expire();
    const r = await this.reviews.get(id);
    return r && this.canSee(viewer, r, opts.operator) ? r : null;
  }

  /** Close what ran out of time; audited and notified like any other change. */
  async expire(): Promise<void> {
    for (const id of await this.reviews.expireDue()) {
      const r = await this.reviews.get(id);
      if (r) await this.event('review.expired', 'system', r);
      this.changes.emit(id);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.notifier.close();
  }

  private canSee(viewer: Identity, r: Review, operator?: boolean): boolean {
    if (operator || viewer.subject === r.requester.subject || viewer.groups.some((g) => r.groups.includes(g))) return true;
    return this.hasRole(viewer, 'approver') || this.hasRole(viewer, 'auditor');
  }

  private async decided(id: string, type: string, actor: string, comment: string | null): Promise<Review> {
    const r = (await this.reviews.get(id))!;
    await this.event(type, actor, r, comment);
    this.changes.emit(id);
    return r;
  }

  private changed(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changes.off(id, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      // the timer also catches decisions made by another gateway sharing the store
      const timer = setTimeout(done, Math.max(ms, 0));
      this.changes.once(id, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private async event(type: string, actor: string, r: Review, comment?: string | null): Promise<void> {
    await this.audit(type, actor, r, comment === undefined ? {} : { comment });
    this.changes.emit(FEED, { type, id: r.id });
    this.notifier.notify({ type, review: this.outbound(r), actor, comment: comment ?? null, approve: this.approveHow(r.id) });
  }

  /** The review as it may leave the gateway: command and parameters through the connection's masker. */
  private outbound(r: Review): Review {
    if (r.command === null && !r.params) return r;
    const mask = this.deps.maskCommand;
    const shown = (text: string) => (mask ? mask(r.connection, text) : '[withheld]');
    return { ...r, command: r.command === null ? null : shown(r.command), params: r.params ? r.params.map((p) => (p === null ? null : shown(p))) : r.params };
  }

  private audit(type: string, actor: string, r: Review, extra: Record<string, unknown>): Promise<unknown> {
    const data: Record<string, unknown> = {
      reviewId: r.id, kind: r.kind, status: r.status, connection: r.connection,
      requester: { subject: r.requester.subject, name: r.requester.name }, groups: r.groups,
      approvals: r.approvals, approvalsNeeded: r.approvalsNeeded, expiresAt: r.expiresAt, ...extra,
    };
    if (r.command !== null) data.command = r.command;
    if (r.params) data.params = r.params;
    if (r.commandHash) data.commandHash = r.commandHash;
    if (r.rule) data.rule = r.rule;
    if (r.durationMs !== null) data.durationMs = r.durationMs;
    if (r.kind === 'access') data.reason = r.reason;
    return this.deps.audit.append({ type, actor, sessionId: r.kind === 'command' && type === 'review.created' ? r.sessionId : null, data }, { durable: true });
  }
}

function who(i: Identity): Review['requester'] {
  return { kind: i.kind, subject: i.subject, name: i.name, groups: i.groups };
}


function lastComment(r: Review): string {
  const v = [...r.votes].reverse().find((x) => x.comment);
  return v ? ` by ${v.voter}: ${v.comment}` : '';
}

export { commandHash };
