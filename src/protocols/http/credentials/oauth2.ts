// OAuth2 client credentials (RFC 6749 section 4.4): the gateway is the client, the token goes
// to the target as `Authorization: Bearer`. The client authenticates with HTTP Basic (its id
// and secret form-encoded first, as section 2.3.1 asks) or, for IdPs that want it, in the form.
import type { OAuth2Credential } from '../../../config/http-credentials.ts';
import type { Minted } from './cache.ts';
import { requestToken, tokenFrom } from './token-endpoint.ts';

export async function mintOAuth2(c: OAuth2Credential): Promise<Minted> {
  const form: Record<string, string> = { grant_type: 'client_credentials' };
  if (c.scopes) form.scope = c.scopes.join(' ');
  if (c.audience) form.audience = c.audience;
  const headers: Record<string, string> = {};
  if (c.auth === 'body') Object.assign(form, { client_id: c.clientId, client_secret: c.clientSecret });
  else headers.authorization = `Basic ${Buffer.from(`${formEncode(c.clientId)}:${formEncode(c.clientSecret)}`).toString('base64')}`;
  return tokenFrom(await requestToken(c.tokenUrl, form, headers), 'access_token');
}

/** application/x-www-form-urlencoded, as RFC 6749 2.3.1 encodes the id and secret before Basic. */
function formEncode(s: string): string {
  return new URLSearchParams({ s }).toString().slice(2);
}
