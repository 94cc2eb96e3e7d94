// Verified OIDC claims -> Identity. Kept apart from verification so the mapping rules
// (which differ between IdPs) are in one small place.
import type { JWTPayload } from 'jose';
import type { Identity } from './types.ts';

export interface ClaimMappingOptions {
  groupsClaim: string;
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

export function identityFromClaims(p: JWTPayload, opts: ClaimMappingOptions): Identity {
  const service = isServiceToken(p, opts.isAccessToken);
  const sub = String(p.sub);
  const pick = (...keys: string[]): string | undefined => {
    for (const k of keys) if (typeof p[k] === 'string' && p[k] !== '') return p[k] as string;
    return undefined;
  };
  const name = service
    ? pick('client_id', 'azp', 'name') ?? sub
    : pick('email', 'preferred_username', 'name') ?? sub;
  return {
    kind: service ? 'service' : 'user',
    subject: sub,
    name,
    groups: groupsFrom(p, opts.groupsClaim),
    ...(typeof p.jti === 'string' ? { credentialId: p.jti } : {}),
    ...(typeof p.exp === 'number' ? { expiresAt: p.exp * 1000 } : {}),
  };
}
