// Token exchange for non-human callers: an agent presents a long-lived or IdP-issued
// credential once and gets a short-lived gateway token, so nothing long-lived needs to
// sit in its environment for the whole session.
import type { Identity } from './types.ts';
import { AuthError } from './errors.ts';
import type { OidcVerifier } from './oidc.ts';
import type { GatewayKeyPair } from './gateway-key.ts';
import { DEFAULT_GATEWAY_TOKEN_TTL_SEC, MAX_GATEWAY_TOKEN_TTL_SEC, mintGatewayToken } from './gateway-token.ts';

export type ExchangeCredential =
  /** an access token from the IdP's client-credentials grant */
  | { type: 'oidc'; token: string }
  /** a Warden API key (looked up, and hashed, by the caller's store) */
  | { type: 'apikey'; key: string };

export interface ExchangeDeps {
  key: GatewayKeyPair;
  /** needed for `oidc` credentials */
  verifier?: OidcVerifier;
  /** needed for `apikey` credentials: the Identity (with credentialId = key id) or null when unknown/revoked */
  lookupApiKey?: (key: string) => Promise<Identity | null> | Identity | null;
  /** default 1 h; capped at 24 h */
  ttlSec?: number;
  /**
   * Kinds of identity that may get a gateway token. Default service and apikey: the
   * exchange is for machines; people use `warden login` and their IdP tokens.
   */
  allowKinds?: Identity['kind'][];
  now?: number;
}

export interface GatewayTokenGrant {
  token: string;
  tokenType: 'Bearer';
  expiresIn: number;
  /** the identity the gateway token stands for (credentialId = source credential) */
  identity: Identity;
}

export async function exchangeForGatewayToken(cred: ExchangeCredential, deps: ExchangeDeps): Promise<GatewayTokenGrant> {
  let identity: Identity;
  if (cred.type === 'oidc') {
    if (!deps.verifier) throw new AuthError('invalid_credential', 'OIDC is not configured');
    // Refuses gateway tokens too (wrong_issuer): a gateway token cannot renew itself.
    identity = await deps.verifier.verify(cred.token);
  } else {
    if (!deps.lookupApiKey) throw new AuthError('invalid_credential', 'API keys are not enabled');
    const found = await deps.lookupApiKey(cred.key);
    if (!found) throw new AuthError('invalid_credential', 'unknown or revoked API key');
    identity = found;
  }
  const allow = deps.allowKinds ?? ['service', 'apikey'];
  if (!allow.includes(identity.kind)) {
    throw new AuthError('not_exchangeable', `a ${identity.kind} identity cannot be exchanged for a gateway token`);
  }
  let ttlSec = Math.min(deps.ttlSec ?? DEFAULT_GATEWAY_TOKEN_TTL_SEC, MAX_GATEWAY_TOKEN_TTL_SEC);
  // Never outlive the source: an API key's expiry, an IdP token's exp.
  if (identity.expiresAt !== undefined) {
    const left = Math.floor((identity.expiresAt - (deps.now ?? Date.now())) / 1000);
    if (left < 1) throw new AuthError('expired', 'the credential expires before a token could be used');
    ttlSec = Math.min(ttlSec, left);
  }
  const token = mintGatewayToken(deps.key, {
    identity,
    ttlSec,
    ...(identity.credentialId ? { sourceCredentialId: identity.credentialId } : {}),
    ...(deps.now !== undefined ? { now: deps.now } : {}),
  });
  return { token, tokenType: 'Bearer', expiresIn: ttlSec, identity };
}
