// A worker thread's copy of the revocation list (src/identity/revocations.ts): what was
// revoked when it started, and each id the main thread adds since. Sessions ask it before
// every command, as they ask the list itself on the main thread.
import type { Identity } from '../../identity/types.ts';
import type { CredentialCheck } from '../../session/session.ts';

/** Clock slack before an id whose credential expired anyway is forgotten (as the list does). */
const SLACK_MS = 60_000;

export class RevokedCopy implements CredentialCheck {
  version = 0;
  private readonly ids: Map<string, number>;

  constructor(revoked: [string, number][]) {
    this.ids = new Map(revoked);
  }

  add(id: string, expiresAt: number): void {
    if (this.ids.has(id)) return;
    this.ids.set(id, expiresAt);
    this.version++;
  }

  isRevoked(identity: Identity): boolean {
    return this.has(identity.credentialId) || this.has(identity.sourceCredentialId);
  }

  /** Forget ids whose credentials have expired anyway (no session can still hold one). */
  prune(now = Date.now()): void {
    for (const [id, exp] of this.ids) if (exp < now - SLACK_MS) this.ids.delete(id);
  }

  private has(id: string | undefined): boolean {
    return id !== undefined && this.ids.has(id);
  }
}
