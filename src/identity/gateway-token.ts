// Short-lived gateway tokens: what an agent holds instead of a long-lived secret.
//
// A compact JWS (EdDSA / Ed25519) minted and verified with node:crypto directly, so both
// are synchronous (a front door can check one per command without a promise) and the
// verifier accepts exactly one algorithm and one token type, nothing negotiable.
// Gateway tokens carry `iss` = GATEWAY_TOKEN_ISSUER: a front door tells them apart from
// IdP tokens with `peekIssuer`, and the OIDC verifier refuses them as wrong_issuer.
import { randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { Identity } from './types.ts';
import { AuthError } from './errors.ts';
import { gatewayKeyId, type GatewayKeyPair } from './gateway-key.ts';

export const GATEWAY_TOKEN_ISSUER = 'urn:warden:gateway';
/** `aud` of a gateway token good for the gateway's API and wire doors (the MCP resource is named on its own). */
export const GATEWAY_AUDIENCE = 'urn:warden:gateway';
export const GATEWAY_TOKEN_TYP = 'warden-gw+jwt';
export const DEFAULT_GATEWAY_TOKEN_TTL_SEC = 3600;
/** Upper bound for any requested TTL: these tokens are meant to be short-lived. */
export const MAX_GATEWAY_TOKEN_TTL_SEC = 24 * 3600;

const KINDS: ReadonlySet<string> = new Set<Identity['kind']>(['apikey', 'user', 'service']);
const B64URL = /^[A-Za-z0-9_-]*$/;

export interface MintOptions {
  identity: Identity;
  /** lifetime; default 1 h, capped at 24 h */
  ttlSec?: number;
  /** id of the credential that was exchanged (API key id, IdP token jti): revoking it revokes this token */
  sourceCredentialId?: string;
  /** what the token is for (`aud`); default [GATEWAY_AUDIENCE] */
  audience?: string[];
  /** ms since epoch; for tests */
  now?: number;
}

export interface GatewayTokenClaims {
  iss: string;
  sub: string;
  name: string;
  groups: string[];
  kind: Identity['kind'];
  jti: string;
  iat: number;
  exp: number;
  /** source credential id */
  src?: string;
  /** audiences: the gateway, and the MCP resource when the token may be used at /mcp */
  aud: string[];
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

export function mintGatewayToken(key: GatewayKeyPair, opts: MintOptions): string {
  const ttl = opts.ttlSec ?? DEFAULT_GATEWAY_TOKEN_TTL_SEC;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error(`gateway token ttl must be a positive integer, got ${ttl}`);
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  const { identity } = opts;
  const claims: GatewayTokenClaims = {
    iss: GATEWAY_TOKEN_ISSUER,
    sub: identity.subject,
    name: identity.name,
    groups: [...identity.groups],
    kind: identity.kind,
    jti: randomBytes(18).toString('base64url'),
    iat,
    exp: iat + Math.min(ttl, MAX_GATEWAY_TOKEN_TTL_SEC),
    ...(opts.sourceCredentialId ? { src: opts.sourceCredentialId } : {}),
    aud: opts.audience ?? [GATEWAY_AUDIENCE],
  };
  const input = `${b64({ alg: 'EdDSA', typ: GATEWAY_TOKEN_TYP, kid: key.kid })}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

export interface VerifyGatewayTokenOptions {
  /**
   * Revocation check, called on every verification with the token id and what it was
   * derived from; return true to refuse. Keep it synchronous and in memory (the store
   * pushes revocations into it) so it can run per command on open sessions.
   */
  isRevoked?: (jti: string, token: { subject: string; sourceCredentialId?: string }) => boolean;
  clockToleranceSec?: number;
  /** refuse the token unless its `aud` names this audience (e.g. the MCP resource) */
  audience?: string;
  /** ms since epoch; for tests */
  now?: number;
}

/** `iss` of a JWT without verifying anything: for routing a bearer token to the right verifier only. */
export function peekIssuer(token: string): string | undefined {
  try {
    const iss = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

export function isGatewayToken(token: string): boolean {
  return peekIssuer(token) === GATEWAY_TOKEN_ISSUER;
}

function parseJson(part: string, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new AuthError('malformed', `gateway token ${what} is not a JSON object`, { cause: e });
  }
}

/**
 * Verify a gateway token against the gateway's public key(s) (several during a key
 * rollover) and return the Identity it stands for, with `credentialId` = its jti.
 */
export function verifyGatewayToken(
  publicKeys: KeyObject | KeyObject[],
  token: string,
  opts: VerifyGatewayTokenOptions = {},
): Identity {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3 || !parts.every((p) => p.length > 0 && B64URL.test(p))) {
    throw new AuthError('malformed', 'not a compact JWS');
  }
  const [h, p, s] = parts;
  const header = parseJson(h, 'header');
  if (header.alg !== 'EdDSA') throw new AuthError('alg_not_allowed', `alg ${String(header.alg)} is not allowed for gateway tokens`);
  if (header.typ !== GATEWAY_TOKEN_TYP) throw new AuthError('malformed', `typ ${String(header.typ)} is not a gateway token`);

  const keys = Array.isArray(publicKeys) ? publicKeys : [publicKeys];
  const key = keys.find((k) => gatewayKeyId(k) === header.kid);
  if (!key) throw new AuthError('unknown_key', `gateway key ${String(header.kid)} is not known here`);
  const sig = Buffer.from(s, 'base64url');
  if (sig.length !== 64 || !verify(null, Buffer.from(`${h}.${p}`), key, sig)) {
    throw new AuthError('bad_signature', 'gateway token signature verification failed');
  }

  const c = parseJson(p, 'payload');
  if (c.iss !== GATEWAY_TOKEN_ISSUER) throw new AuthError('wrong_issuer', `issuer ${String(c.iss)} is not the gateway`);
  const okGroups = Array.isArray(c.groups) && c.groups.every((g) => typeof g === 'string');
  if (
    typeof c.sub !== 'string' || typeof c.name !== 'string' || typeof c.jti !== 'string' || !okGroups ||
    typeof c.kind !== 'string' || !KINDS.has(c.kind) || typeof c.exp !== 'number' || typeof c.iat !== 'number' ||
    (c.src !== undefined && typeof c.src !== 'string') ||
    (c.aud !== undefined && !(Array.isArray(c.aud) && c.aud.every((a) => typeof a === 'string')))
  ) {
    throw new AuthError('malformed', 'gateway token claims are incomplete');
  }
  // A token from before audiences were named has none: it is good nowhere an audience is asked for.
  if (opts.audience !== undefined && !(c.aud as string[] | undefined)?.includes(opts.audience)) {
    throw new AuthError('wrong_audience', `gateway token is not for ${opts.audience}`);
  }
  const now = (opts.now ?? Date.now()) / 1000;
  const tol = opts.clockToleranceSec ?? 30;
  if (now > c.exp + tol) throw new AuthError('expired', 'gateway token expired');
  if (c.iat > now + tol) throw new AuthError('not_yet_valid', 'gateway token issued in the future');
  const source = c.src as string | undefined;
  if (opts.isRevoked?.(c.jti, { subject: c.sub, ...(source ? { sourceCredentialId: source } : {}) })) {
    throw new AuthError('revoked', 'gateway token revoked');
  }
  return {
    kind: c.kind as Identity['kind'],
    subject: c.sub,
    name: c.name,
    groups: c.groups as string[],
    credentialId: c.jti,
    ...(source ? { sourceCredentialId: source } : {}),
    expiresAt: c.exp * 1000,
  };
}
