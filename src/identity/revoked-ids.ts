// Revoked credential ids in memory, so every check is a Map lookup: sessions ask before each
// command. `version` moves whenever one is added: a session remembers the version it last
// checked and only looks its credential up again when it changed (allocation-free path).
// The gateway's list (revocations.ts) learns them from the store; a data-plane worker keeps
// one of these as a copy, told each id the main thread adds (src/gateway/workers).
import type { Identity } from './types.ts';

/** Clock slack before an id whose credential has expired anyway is forgotten: replicas' clocks differ a little. */
export const EXPIRY_SLACK_MS = 60_000;

/** Satisfies the session's CredentialCheck (session.ts) structurally. */
export class RevokedIds {
  version = 0;
  /** credential id -> when it would have expired anyway (ms; Infinity for API keys) */
  private readonly ids: Map<string, number>;

  constructor(revoked: [string, number][] = []) {
    this.ids = new Map(revoked);
  }

  has(id: string | undefined): boolean {
    return id !== undefined && this.ids.has(id);
  }

  isRevoked(identity: Identity): boolean {
    return this.has(identity.credentialId) || this.has(identity.sourceCredentialId);
  }

  /** False when it was known already. */
  add(id: string, expiresAt = Infinity): boolean {
    if (this.ids.has(id)) return false;
    this.ids.set(id, expiresAt);
    this.version++;
    return true;
  }

  /** What is revoked now: id, and when it would have expired anyway (ms). */
  snapshot(): [string, number][] {
    return [...this.ids];
  }

  /** Dead tokens need no entry: they fail their own expiry check. Forgetting never moves `version`. */
  prune(now = Date.now()): void {
    for (const [id, exp] of this.ids) if (exp < now - EXPIRY_SLACK_MS) this.ids.delete(id);
  }
}
