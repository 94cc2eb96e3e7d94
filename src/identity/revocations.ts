// What has been revoked (revoked-ids.ts), learned from the store: the store is the truth
// (api_keys.revoked_at, revoked_tokens); this list learns from it at start, on every
// revocation made here, and by polling, so a revocation made by another replica or by the
// CLI arrives within one poll period.
import type { Store } from '../store/index.ts';
import { EXPIRY_SLACK_MS, RevokedIds } from './revoked-ids.ts';

export class Revocations extends RevokedIds {
  private polledAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: ((id: string, expiresAt: number) => void)[] = [];

  constructor(private readonly store: Store) {
    super();
  }

  /** For verifyGatewayToken's `isRevoked`: the token's own id or what it came from. */
  readonly check = (jti: string, token: { sourceCredentialId?: string }): boolean => this.has(jti) || this.has(token.sourceCredentialId);

  override add(id: string, expiresAt = Infinity): boolean {
    if (!super.add(id, expiresAt)) return false;
    for (const fn of this.listeners) fn(id, expiresAt);
    return true;
  }

  /** Told every id added from now on (data-plane workers keep a copy: src/gateway/workers). */
  follow(fn: (id: string, expiresAt: number) => void): void {
    this.listeners.push(fn);
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
    const since = this.polledAt === 0 ? 0 : this.polledAt - EXPIRY_SLACK_MS;
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
    this.prune(now);
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
