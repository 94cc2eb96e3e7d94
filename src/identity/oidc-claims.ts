// Verified OIDC claims -> Identity. Kept apart from verification so the mapping rules
// (which differ between IdPs) are in one small place.
import type { JWTPayload } from 'jose';
import type { Identity } from './types.ts';

export interface ClaimMappingOptions {
  groupsClaim: string;
  /** the verified `iss`: part of the identity's key */
  issuer: string;
  /** the token's aud matched the API audience (an access token), not our client id (an ID token) */
  isAccessToken: boolean;
}

/** Read a claim by a dotted path, so `realm_access.roles` (Keycloak) works as well as `groups`. */
function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Groups as a clean string list; anything else in the claim is ignored, never coerced into access. */
export function groupsFrom(payload: JWTPayload, claim: string): string[] {
  const v = claimAt(payload, claim);
  if (typeof v === 'string') return v === '' ? [] : [v];
  if (!Array.isArray(v)) return [];
  return [...new Set(v.filter((g): g is string => typeof g === 'string' && g !== ''))];
}

/**
 * A token stands for a service (no human behind it) when it came from the client
 * credentials grant. IdPs say so differently; we accept the common signals:
 *  - RFC 9068 / oidc-provider / Okta: `sub` equals `client_id` (or `cid`)
 *  - Keycloak / Azure v1: `sub` equals `azp` / `appid` on an access token
 *  - Auth0: `gty` = `client-credentials`;  Azure v2: `idtyp` = `app`
 * ID tokens always stand for a user: they only exist after an end-user authentication.
 */
export function isServiceToken(p: JWTPayload, isAccessToken: boolean): boolean {
  if (!isAccessToken) return false;
  if (p.gty === 'client-credentials' || p.idtyp === 'app') return true;
  const clientIds = [p.client_id, p.cid, p.azp, p.appid].filter((x) => typeof x === 'string');
  return typeof p.sub === 'string' && clientIds.includes(p.sub);
}

/** The key of an IdP identity: its issuer and `sub`, never a name a local user or an API key could have. */
export const oidcSubject = (issuer: string, sub: string): string => `${issuer}#${sub}`;

/** An email the IdP vouches for (`email_verified`; some IdPs send the string "true"). */
function verifiedEmail(p: JWTPayload): string | undefined {
  const verified = p.email_verified === true || p.email_verified === 'true';
  return verified && typeof p.email === 'string' && p.email !== '' ? p.email : undefined;
}

/**
 * The identity is keyed by issuer + `sub` (its subject), in a namespace apart from local
 * users (`user:<name>`) and API keys (by id): a local user, an API key and an IdP user may
 * share a display name and still be three identities. Its name, which access lists and
 * rules may match, is a verified email, or else the subject: never `preferred_username`,
 * `name` or an unverified email, which the user may be able to set to someone else's.
 */
export function identityFromClaims(p: JWTPayload, opts: ClaimMappingOptions): Identity {
  const service = isServiceToken(p, opts.isAccessToken);
  const subject = oidcSubject(opts.issuer, String(p.sub));
  const name = (!service && verifiedEmail(p)) || subject;
  return {
    kind: service ? 'service' : 'user',
    subject,
    name,
    groups: groupsFrom(p, opts.groupsClaim),
    ...(typeof p.jti === 'string' ? { credentialId: p.jti } : {}),
    ...(typeof p.exp === 'number' ? { expiresAt: p.exp * 1000 } : {}),
  };
}
