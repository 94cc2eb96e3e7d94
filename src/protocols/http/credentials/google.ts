// A Google service account's token by the JWT bearer grant (RFC 7523): the gateway signs an
// assertion with the account's private key (RS256) and trades it at the key file's token_uri
// for an access token (`scope` in the assertion, for Google APIs) or an ID token
// (`target_audience`, for Cloud Run and IAP, which check the token's audience).
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { GoogleCredential } from '../../../config/http-credentials.ts';
import type { Minted } from './cache.ts';
import { requestToken, tokenFrom } from './token-endpoint.ts';

/** How long an assertion is good for; Google accepts at most an hour. */
const ASSERTION_LIFE_S = 3600;
const keys = new WeakMap<GoogleCredential, KeyObject>();

export async function mintGoogle(c: GoogleCredential): Promise<Minted> {
  const sa = c.serviceAccount;
  let key = keys.get(c);
  if (!key) keys.set(c, (key = createPrivateKey(sa.privateKey)));
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: sa.clientEmail, aud: sa.tokenUri, iat: now, exp: now + ASSERTION_LIFE_S };
  if (c.audience) claims.target_audience = c.audience;
  else claims.scope = c.scopes!.join(' ');
  if (c.subject) claims.sub = c.subject;
  const header = { alg: 'RS256', typ: 'JWT', ...(sa.privateKeyId ? { kid: sa.privateKeyId } : {}) };
  const input = `${b64(header)}.${b64(claims)}`;
  const assertion = `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
  const answer = await requestToken(sa.tokenUri, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
  return tokenFrom(answer, c.audience ? 'id_token' : 'access_token');
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
