// One error type for every refused credential, so front doors can audit *why* without
// parsing messages. The reason codes are part of the audit vocabulary: keep them stable.

export type AuthReason =
  /** `exp` is in the past (beyond the clock tolerance) */
  | 'expired'
  /** `nbf` is in the future (beyond the clock tolerance) */
  | 'not_yet_valid'
  /** the signature does not match the key named by the token (tampered or forged) */
  | 'bad_signature'
  /** `iss` is not the configured issuer (includes tokens of another IdP, gateway tokens at an OIDC door) */
  | 'wrong_issuer'
  /** `aud` does not contain the configured audience / client id */
  | 'wrong_audience'
  /** header `alg` is outside the allow-list (`none`, HS256 key confusion, ...) */
  | 'alg_not_allowed'
  /** no key with that `kid` at the issuer, even after a JWKS refresh */
  | 'unknown_key'
  /** not a compact JWS, bad JSON, missing required claims */
  | 'malformed'
  /** the credential (token jti, API key, service account) was revoked */
  | 'revoked'
  /** an API key or client credential that the lookup does not know */
  | 'invalid_credential'
  /** the identity may not be exchanged for a gateway token (e.g. a human user's token) */
  | 'not_exchangeable'
  /** the IdP (discovery / JWKS) could not be reached; not the caller's fault, still refused */
  | 'unavailable'
  /** too many failed attempts from this source or for this account; refused without checking */
  | 'rate_limited'
  /** too many password checks (scrypt) running at once; refused without checking */
  | 'too_many_logins';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly reason: AuthReason;

  constructor(reason: AuthReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export function isAuthError(e: unknown): e is AuthError {
  return e instanceof AuthError;
}
