// The identity module every front door asks "who is this?". A bearer token is routed by
// its shape: `wdn_...` is an API key, a JWT with the gateway's issuer is a gateway token,
// any other JWT goes to the OIDC verifier (when an IdP is configured). Failed attempts are
// rate-limited per source address and per account name; every refusal is reported to the
// caller (`onRefused`, which audits and counts it) with a stable AuthReason, never the token.
import { join } from 'node:path';
import type { Store } from '../store/index.ts';
import { findApiKey, findApiKeyByNativeScramble, hashToken, TOKEN_PREFIX, type ApiKeyRecord } from '../store/api-keys.ts';
import type { AuthConfig } from '../config/auth-schema.ts';
import type { Identity } from './types.ts';
import { AuthError, isAuthError, type AuthReason } from './errors.ts';
import { loadOrCreateGatewayKey, type GatewayKeyPair } from './gateway-key.ts';
import { isGatewayToken, mintGatewayToken, verifyGatewayToken, GATEWAY_AUDIENCE, MAX_GATEWAY_TOKEN_TTL_SEC } from './gateway-token.ts';
import { createOidcVerifier, type OidcVerifier } from './oidc.ts';
import { FailureLimiter } from './rate-limit.ts';
import { Revocations } from './revocations.ts';
import { checkLocalLogin } from './local-users.ts';
import { resolveSshKey } from './ssh-keys.ts';

export interface AuthAttempt {
  clientAddr: string;
  frontDoor: string;
  connection?: string;
}

export type AuthOutcome = { ok: true; identity: Identity } | { ok: false; reason: AuthReason; message: string; account: string | null };

export interface IdentityDeps {
  store: Store;
  dataDir: string;
  auth: AuthConfig;
  /** audit + count + log one refusal (the outcome never carries the credential) */
  onRefused(outcome: Extract<AuthOutcome, { ok: false }>, attempt: AuthAttempt): Promise<void>;
  /** a verifier to use instead of discovering the configured issuer (tests) */
  oidcVerifier?: OidcVerifier;
}

/**
 * The address a rate limit counts: the Postgres door writes `<address>:<port>` (the port
 * changes with every connection), HTTP a bare address; an IPv4-mapped IPv6 address is the
 * IPv4 one.
 */
export function sourceAddress(attempt: Pick<AuthAttempt, 'clientAddr' | 'frontDoor'>): string {
  const addr = attempt.frontDoor === 'postgres' || attempt.frontDoor === 'mysql' ? attempt.clientAddr.replace(/:\d+$/, '') : attempt.clientAddr;
  return addr.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

export const GATEWAY_KEY_FILE = 'gateway-token-key.pem';
const KEY_CACHE_MS = 5_000;
const KEY_CACHE_MAX = 10_000;

export class IdentityService {
  readonly key: GatewayKeyPair;
  readonly revocations: Revocations;
  private readonly bySource: FailureLimiter;
  private readonly byAccount: FailureLimiter;
  private verifier: Promise<OidcVerifier> | null = null;

  constructor(private readonly deps: IdentityDeps) {
    this.key = loadOrCreateGatewayKey(join(deps.dataDir, GATEWAY_KEY_FILE));
    this.revocations = new Revocations(deps.store);
    const { window, perSource, perAccount } = deps.auth.rateLimit;
    this.bySource = new FailureLimiter({ windowMs: window, max: perSource });
    this.byAccount = new FailureLimiter({ windowMs: window, max: perAccount });
    if (deps.oidcVerifier) this.verifier = Promise.resolve(deps.oidcVerifier);
  }

  get oidcConfigured(): boolean {
    return this.deps.auth.oidc !== undefined || this.deps.oidcVerifier !== undefined;
  }

  /** The OIDC verifier, discovered on first use; a failed discovery is retried on the next token. */
  oidc(): Promise<OidcVerifier> {
    const cfg = this.deps.auth.oidc;
    if (!this.verifier) {
      if (!cfg) return Promise.reject(new AuthError('invalid_credential', 'no identity provider is configured'));
      this.verifier = createOidcVerifier({ issuer: cfg.issuer, audience: cfg.audience, clientId: cfg.clientId, groupsClaim: cfg.groupsClaim });
      this.verifier.catch(() => (this.verifier = null));
    }
    return this.verifier;
  }

  /**
   * The MCP resource identifier (gateway.mcp.resource, or <http URL>/mcp, known once the
   * HTTP listener is up): gateway tokens minted for clients name it in their `aud`.
   */
  mcpResource: string | null = null;

  /**
   * Credential -> Identity, or an AuthError naming why not. No limits, no auditing: see
   * `authenticate`. With `audience`, a token must be for that resource: an IdP token's `aud`
   * and a gateway token's `aud` must name it (API keys are for this gateway, whatever part).
   */
  async resolve(token: string, opts: { audience?: string } = {}): Promise<Identity> {
    if (!token) throw new AuthError('invalid_credential', 'no token');
    if (token.startsWith(TOKEN_PREFIX)) {
      const key = await this.apiKey(token);
      if (!key) throw new AuthError('invalid_credential', 'unknown token');
      return this.keyIdentity(key);
    }
    if (isGatewayToken(token)) return verifyGatewayToken(this.key.publicKey, token, { isRevoked: this.revocations.check, ...opts });
    if (token.split('.').length !== 3) throw new AuthError('invalid_credential', 'unknown token');
    const identity = await (await this.oidc()).verify(token, opts);
    if (this.revocations.isRevoked(identity)) throw new AuthError('revoked', 'token revoked');
    return identity;
  }

  /**
   * The stored key of a token, remembered for KEY_CACHE_MS: the http door admits every request
   * with its token, and the store lookup was a tenth of a request's CPU (bench:http). What can
   * change meanwhile is still read fresh in keyIdentity: revocation (the in-memory list, which
   * learns of other replicas' by polling) and expiry. Unknown tokens are never remembered, and
   * the map holds tokens' hashes, not tokens.
   */
  private readonly keyCache = new Map<string, { key: ApiKeyRecord; until: number }>();
  private async apiKey(token: string): Promise<ApiKeyRecord | null> {
    const id = hashToken(token);
    const now = Date.now();
    const hit = this.keyCache.get(id);
    if (hit && hit.until > now) return hit.key;
    const key = await findApiKey(this.deps.store, token);
    if (this.keyCache.size >= KEY_CACHE_MAX) this.keyCache.clear();
    if (key) this.keyCache.set(id, { key, until: now + KEY_CACHE_MS });
    return key;
  }

  private keyIdentity(key: ApiKeyRecord): Identity {
    const named = (reason: AuthReason, msg: string) => Object.assign(new AuthError(reason, msg), { account: key.name });
    if (key.revokedAt || this.revocations.has(key.id)) throw named('revoked', 'token revoked');
    if (key.expiresAt !== null && key.expiresAt <= Date.now()) throw named('expired', 'token expired');
    return { kind: 'apikey', subject: key.id, name: key.name, groups: key.groups, credentialId: key.id, ...(key.expiresAt !== null ? { expiresAt: key.expiresAt } : {}) };
  }

  /**
   * A MySQL client's mysql_native_password answer to `scramble`: the API key whose stored
   * verifier it matches, behind the same limits and reporting as `authenticate`.
   */
  async authenticateNativeScramble(scramble: Buffer, response: Buffer, attempt: AuthAttempt): Promise<AuthOutcome> {
    return this.limited(attempt, null, async () => {
      const key = await findApiKeyByNativeScramble(this.deps.store, scramble, response);
      if (!key) throw new AuthError('invalid_credential', 'no API key answers the mysql_native_password scramble');
      return this.keyIdentity(key);
    });
  }

  /**
   * An SSH public key the door has checked the signature of (by its fingerprint): the
   * identity it was registered to (src/identity/ssh-keys.ts), behind the same limits and
   * reporting as `authenticate`.
   */
  async authenticateSshKey(fingerprint: string, attempt: AuthAttempt): Promise<AuthOutcome> {
    return this.limited(attempt, null, () => resolveSshKey({ store: this.deps.store, isRevokedId: (id) => this.revocations.has(id) }, fingerprint));
  }

  /** `resolve` behind the failure limits, reporting every refusal. */
  async authenticate(token: string, attempt: AuthAttempt, opts: { audience?: string } = {}): Promise<AuthOutcome> {
    return this.limited(attempt, null, () => this.resolve(token, opts));
  }

  /**
   * Local-mode login: name and password -> identity (the caller mints the gateway token).
   * A password check costs tens of ms of scrypt and 32 MiB: the attempt is counted as a
   * failure before it runs (and taken back if it succeeds), so a burst of parallel guesses
   * cannot all start before the first one is counted, and at most `maxLoginsInFlight` run at
   * once; the rest are refused at once without checking.
   */
  async loginLocal(name: string, password: string, attempt: AuthAttempt): Promise<AuthOutcome> {
    if (this.loginsInFlight >= this.deps.auth.rateLimit.maxLoginsInFlight) {
      return this.refuseOutcome({ ok: false, reason: 'too_many_logins', message: 'too many logins in progress', account: name }, attempt);
    }
    this.loginsInFlight++;
    try {
      return await this.limited(attempt, name, async () => {
        const who = await checkLocalLogin(this.deps.store, name, password);
        if (!who) throw Object.assign(new AuthError('invalid_credential', 'unknown user or wrong password'), { account: name });
        return who;
      }, true);
    } finally {
      this.loginsInFlight--;
    }
  }

  private loginsInFlight = 0;

  private async limited(attempt: AuthAttempt, account: string | null, fn: () => Promise<Identity>, countFirst = false): Promise<AuthOutcome> {
    // One source is one address whichever door (and source port) it knocks from.
    const sourceKey = sourceAddress(attempt);
    if (this.bySource.limited(sourceKey) || (account !== null && this.byAccount.limited(account))) {
      return this.refuseOutcome({ ok: false, reason: 'rate_limited', message: 'too many failed attempts', account }, attempt);
    }
    const at = Date.now();
    if (countFirst) {
      this.bySource.fail(sourceKey, at);
      if (account !== null) this.byAccount.fail(account, at);
    }
    try {
      const identity = await fn();
      if (countFirst) {
        this.bySource.refund(sourceKey, at);
        if (account !== null) this.byAccount.refund(account, at);
      }
      return { ok: true, identity };
    } catch (e) {
      if (!isAuthError(e)) throw e;
      const who = (e as AuthError & { account?: string }).account ?? account;
      // The IdP being down is not the caller's failed guess: it must not lock people out.
      if (e.reason !== 'unavailable' && !countFirst) {
        this.bySource.fail(sourceKey);
        if (who !== null) this.byAccount.fail(who);
      }
      return this.refuseOutcome({ ok: false, reason: e.reason, message: e.message, account: who }, attempt);
    }
  }

  /** Report a refusal decided outside `authenticate` (e.g. a token that may not be exchanged). */
  async refuseOutcome(outcome: Extract<AuthOutcome, { ok: false }>, attempt: AuthAttempt): Promise<AuthOutcome> {
    await this.deps.onRefused(outcome, attempt);
    return outcome;
  }

  /**
   * A short-lived gateway token standing for `identity`, derived from `source` (revoking it
   * reaches the token). It never outlives what it was derived from: an API key's expiry, an
   * IdP token's `exp`.
   */
  mint(identity: Identity, opts: { ttlSec?: number; source?: string; audience?: string[] } = {}): { token: string; expiresIn: number; jti: string } {
    let ttlSec = Math.min(opts.ttlSec ?? Math.round(this.deps.auth.gatewayTokenTtl / 1000), MAX_GATEWAY_TOKEN_TTL_SEC);
    if (identity.expiresAt !== undefined) {
      const left = Math.floor((identity.expiresAt - Date.now()) / 1000);
      if (left < 1) throw new AuthError('expired', 'the credential expires before a token could be used');
      ttlSec = Math.min(ttlSec, left);
    }
    const source = opts.source ?? identity.credentialId;
    const audience = opts.audience ?? [GATEWAY_AUDIENCE, ...(this.mcpResource ? [this.mcpResource] : [])];
    const token = mintGatewayToken(this.key, { identity, ttlSec, audience, ...(source ? { sourceCredentialId: source } : {}) });
    const jti = verifyGatewayToken(this.key.publicKey, token).credentialId!;
    return { token, expiresIn: ttlSec, jti };
  }
}
