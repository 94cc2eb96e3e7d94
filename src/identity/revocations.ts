// What has been revoked, in memory, so every check is a Map lookup: the Postgres door asks
// on every command of an open session. The store is the truth (api_keys.revoked_at,
// revoked_tokens); this list learns from it at start, on every revocation made here, and
// by polling, so a revocation made by another replica or by the CLI arrives within one
// poll period.
//
// `version` moves whenever something is added: a session remembers the version it last
// checked and only looks its credential up again when it changed (allocation-free path).
import type { Store } from '../store/index.ts';
import type { Identity } from './types.ts';

/** Clock slack when polling "revoked since": replicas' clocks differ a little. */
const POLL_SLACK_MS = 60_000;

/** Satisfies the session's CredentialCheck (session.ts) structurally. */
export class Revocations {
  version = 0;
  /** credential id -> when it would have expired anyway (ms; Infinity for API keys) */
  private readonly ids = new Map<string, number>();
  private polledAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: ((id: string, expiresAt: number) => void)[] = [];

  constructor(private readonly store: Store) {}

  has(id: string | undefined): boolean {
    return id !== undefined && this.ids.has(id);
  }

  isRevoked(identity: Identity): boolean {
    return this.has(identity.credentialId) || this.has(identity.sourceCredentialId);
  }

  /** For verifyGatewayToken's `isRevoked`: the token's own id or what it came from. */
  readonly check = (jti: string, token: { sourceCredentialId?: string }): boolean => this.has(jti) || this.has(token.sourceCredentialId);

  add(id: string, expiresAt = Infinity): void {
    if (this.ids.has(id)) return;
    this.ids.set(id, expiresAt);
    this.version++;
    for (const fn of this.listeners) fn(id, expiresAt);
  }

  /** Told every id added from now on (data-plane workers keep a copy: src/gateway/workers). */
  follow(fn: (id: string, expiresAt: number) => void): void {
    this.listeners.push(fn);
  }

  /** What is revoked now: id, and when it would have expired anyway (ms). */
  snapshot(): [string, number][] {
    return [...this.ids];
  }

  /** Record a gateway token's (or IdP token's) revocation in the store, then here. */
  async revokeTokenId(jti: string, expiresAt: number): Promise<void> {
    const now = Date.now();
    await this.store.db
      .insertInto('revoked_tokens')
      .values({ jti, revoked_at: now, expires_at: Number.isFinite(expiresAt) ? expiresAt : now + 24 * 3_600_000 })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
    this.add(jti, expiresAt);
  }

  /** Catch up with the store; the first call reads everything still relevant. */
  async poll(now = Date.now()): Promise<void> {
    const since = this.polledAt === 0 ? 0 : this.polledAt - POLL_SLACK_MS;
    this.polledAt = now;
    const keys = await this.store.db.selectFrom('api_keys').select('id').where('revoked_at', '>=', since).execute();
    for (const k of keys) this.add(k.id);
    const tokens = await this.store.db
      .selectFrom('revoked_tokens')
      .select(['jti', 'expires_at'])
      .where('revoked_at', '>=', since)
      .where('expires_at', '>', now)
      .execute();
    for (const t of tokens) this.add(t.jti, t.expires_at);
    // Dead tokens need no entry: they fail their own expiry check. Deleting never moves `version`.
    for (const [id, exp] of this.ids) if (exp < now - POLL_SLACK_MS) this.ids.delete(id);
  }

  start(everyMs: number, onError: (e: unknown) => void): void {
    this.timer = setInterval(() => void this.poll().catch(onError), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
