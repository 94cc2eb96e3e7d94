// OIDC bearer token verification: the "who is this?" answer for tokens an IdP issued.
//
// Order of checks, and why:
//  1. Parse header and payload without trusting them (malformed otherwise).
//  2. `alg` against the allow-list *before* any key lookup: `none` and HS* (the classic
//     "HMAC with the RSA public key" confusion) never reach the crypto.
//  3. `iss` (unverified) equals the configured issuer: a token of another IdP, or a
//     gateway token presented at an OIDC door, is refused as wrong_issuer without making
//     us refetch our JWKS for a kid that can never be there.
//  4. Signature with the issuer's JWKS (jose remote set: cached, refetched on unknown kid
//     at most once per cooldown), then exp/nbf with tolerance, iss and aud again as
//     verified claims.
// Everything refused throws AuthError with a stable reason for the audit log.
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Identity } from './types.ts';
import { AuthError } from './errors.ts';
import { identityFromClaims } from './oidc-claims.ts';

export interface OidcVerifierConfig {
  /** issuer URL exactly as the IdP writes it in `iss` (discovery is `<issuer>/.well-known/openid-configuration`) */
  issuer: string;
  /** accepted `aud` of access tokens (the API's resource / audience) */
  audience: string | string[];
  /** when set, ID tokens issued to this client (aud = client id) are accepted too */
  clientId?: string;
  /** claim holding the groups; a dotted path reaches nested claims (`realm_access.roles`). Default `groups`. */
  groupsClaim?: string;
  /** asymmetric JWS algorithms accepted. Default RS256, ES256, PS256, EdDSA. */
  algorithms?: string[];
  /** allowed clock skew for exp / nbf. Default 30 s. */
  clockToleranceSec?: number;
  /** minimum time between JWKS refetches triggered by an unknown kid. Default 30 s. */
  jwksCooldownSec?: number;
  /** JWKS cache lifetime. Default 10 min. */
  jwksCacheMaxAgeSec?: number;
  /** HTTP timeout for discovery and JWKS. Default 5 s. */
  httpTimeoutMs?: number;
}

export interface VerifyOptions {
  /**
   * accept only access tokens whose `aud` includes this resource (instead of the configured
   * audience or client id): a resource server of its own, such as /mcp
   */
  audience?: string;
}

export interface OidcVerifier {
  readonly issuer: string;
  /** verify an access token or ID token; resolves to the caller's Identity or throws AuthError */
  verify(token: string, opts?: VerifyOptions): Promise<Identity>;
  /** the verified claims as well, for callers that need more than Identity (e.g. login `whoami`) */
  verifyWithClaims(token: string, opts?: VerifyOptions): Promise<{ identity: Identity; claims: JWTPayload }>;
}

export const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];

/** Symmetric and unsigned algorithms make no sense with a public JWKS; refuse to configure them. */
function checkAlgorithms(algs: string[]): void {
  for (const a of algs) {
    if (a === 'none' || /^HS/i.test(a)) throw new Error(`auth.oidc: algorithm ${a} cannot be allowed (public keys only)`);
  }
  if (algs.length === 0) throw new Error('auth.oidc: algorithms must not be empty');
}

/** Fetch discovery and check it names the issuer we were configured with (OIDC Discovery §4.3). */
export async function discoverJwksUri(issuer: string, timeoutMs = 5000): Promise<URL> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (e) {
    throw new AuthError('unavailable', `OIDC discovery failed at ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (doc.issuer !== issuer) {
    throw new Error(`OIDC discovery at ${url} names issuer ${String(doc.issuer)}, expected ${issuer}`);
  }
  if (typeof doc.jwks_uri !== 'string') throw new Error(`OIDC discovery at ${url} has no jwks_uri`);
  return new URL(doc.jwks_uri);
}

/** Map jose's errors onto our reasons; anything unexpected counts as malformed (still refused). */
function toAuthError(e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  if (e instanceof joseErrors.JWTExpired) return new AuthError('expired', 'token expired', { cause: e });
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    const byClaim: Record<string, AuthError['reason']> = { nbf: 'not_yet_valid', iss: 'wrong_issuer', aud: 'wrong_audience' };
    return new AuthError(byClaim[e.claim] ?? 'malformed', `claim ${e.claim}: ${e.message}`, { cause: e });
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthError('bad_signature', 'signature verification failed', { cause: e });
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return new AuthError('alg_not_allowed', e.message, { cause: e });
  if (e instanceof joseErrors.JWKSNoMatchingKey) return new AuthError('unknown_key', 'no matching key in the issuer JWKS', { cause: e });
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys) return new AuthError('unknown_key', 'ambiguous key (no kid)', { cause: e });
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid) {
    return new AuthError('unavailable', `JWKS unavailable: ${e.message}`, { cause: e });
  }
  if (e instanceof TypeError && /fetch/i.test(e.message)) return new AuthError('unavailable', `JWKS unavailable: ${e.message}`, { cause: e });
  return new AuthError('malformed', e instanceof Error ? e.message : String(e), { cause: e });
}

/**
 * Build a verifier for one issuer. Discovery happens now (fails if the IdP is unreachable
 * or names another issuer); keys are fetched lazily on first use and cached.
 */
export async function createOidcVerifier(cfg: OidcVerifierConfig): Promise<OidcVerifier> {
  const algorithms = cfg.algorithms ?? DEFAULT_ALGORITHMS;
  checkAlgorithms(algorithms);
  const jwksUri = await discoverJwksUri(cfg.issuer, cfg.httpTimeoutMs);
  const jwks = createRemoteJWKSet(jwksUri, {
    cooldownDuration: (cfg.jwksCooldownSec ?? 30) * 1000,
    cacheMaxAge: (cfg.jwksCacheMaxAgeSec ?? 600) * 1000,
    timeoutDuration: cfg.httpTimeoutMs ?? 5000,
  });
  return createVerifierWithKeys(cfg, jwks);
}

/** The verifier over any key source (the remote JWKS in production; exported for composition). */
export function createVerifierWithKeys(cfg: OidcVerifierConfig, keys: JWTVerifyGetKey): OidcVerifier {
  const algorithms = cfg.algorithms ?? DEFAULT_ALGORITHMS;
  checkAlgorithms(algorithms);
  const audiences = [...(Array.isArray(cfg.audience) ? cfg.audience : [cfg.audience])];
  if (cfg.clientId) audiences.push(cfg.clientId);
  const groupsClaim = cfg.groupsClaim ?? 'groups';

  async function verifyWithClaims(token: string, opts: VerifyOptions = {}): Promise<{ identity: Identity; claims: JWTPayload }> {
    if (typeof token !== 'string' || token.split('.').length !== 3) throw new AuthError('malformed', 'not a compact JWS');
    let alg: unknown;
    let unverifiedIss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      unverifiedIss = decodeJwt(token).iss;
    } catch (e) {
      throw new AuthError('malformed', 'undecodable token', { cause: e });
    }
    if (typeof alg !== 'string' || !algorithms.includes(alg)) {
      throw new AuthError('alg_not_allowed', `alg ${String(alg)} is not allowed`);
    }
    if (unverifiedIss !== cfg.issuer) throw new AuthError('wrong_issuer', `issuer ${String(unverifiedIss)} is not ${cfg.issuer}`);

    let payload: JWTPayload;
    try {
      const r = await jwtVerify(token, keys, {
        issuer: cfg.issuer,
        audience: opts.audience !== undefined ? [opts.audience] : audiences,
        algorithms,
        clockTolerance: cfg.clockToleranceSec ?? 30,
        requiredClaims: ['exp', 'sub'],
      });
      payload = r.payload;
    } catch (e) {
      throw toAuthError(e);
    }
    // An ID token is accepted only when it was issued to our own client (token substitution).
    const isAccessToken = opts.audience !== undefined || audienceMatches(payload.aud, Array.isArray(cfg.audience) ? cfg.audience : [cfg.audience]);
    if (!isAccessToken && cfg.clientId && payload.azp !== undefined && payload.azp !== cfg.clientId) {
      throw new AuthError('wrong_audience', `ID token authorized for ${String(payload.azp)}, not ${cfg.clientId}`);
    }
    return { identity: identityFromClaims(payload, { groupsClaim, isAccessToken, issuer: cfg.issuer }), claims: payload };
  }

  return {
    issuer: cfg.issuer,
    verifyWithClaims,
    async verify(token, opts) {
      return (await verifyWithClaims(token, opts)).identity;
    },
  };
}

function audienceMatches(aud: unknown, accepted: string[]): boolean {
  const list = Array.isArray(aud) ? aud : [aud];
  return list.some((a) => typeof a === 'string' && accepted.includes(a));
}
