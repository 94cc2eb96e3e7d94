// The credential an http connection holds for its target, put on each request as it leaves:
// a header (with a scheme when given, `Bearer <value>`) or a query parameter; or one the
// gateway mints (credentials/): an OAuth2 or Google token, fetched once for every request that
// needs it and refreshed before it expires, or an AWS SigV4 signature over the request itself.
// The caller's own Warden token never leaves: it is taken off before (see caller-token.ts).
// A credential that cannot be had is an error naming the connection, never the secret.
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpConnectionConfig } from '../../config/schema.ts';
import { TokenCache, type Minted } from './credentials/cache.ts';
import { CredentialError } from './credentials/token-endpoint.ts';
import { mintOAuth2 } from './credentials/oauth2.ts';
import { mintGoogle } from './credentials/google.ts';
import { signAws } from './credentials/aws-sigv4.ts';

export { CredentialError };

export type HttpCredential = NonNullable<HttpConnectionConfig['credential']>;

/** A request about to leave: its method, target URL and headers (`host` already set). */
export interface OutgoingRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
}

/** One cache per configured credential, so every request of a connection shares its token. */
const caches = new WeakMap<HttpCredential, TokenCache>();

export async function injectCredential(conn: HttpConnectionConfig, out: OutgoingRequest): Promise<void> {
  const c = conn.credential;
  if (!c) return;
  if ('header' in c) out.headers[c.header.toLowerCase()] = c.scheme ? `${c.scheme} ${c.value}` : c.value;
  else if ('query' in c) out.url.searchParams.set(c.query, c.value);
  else if ('aws' in c) signAws(c.aws, out);
  else out.headers.authorization = `Bearer ${await tokenFor(conn.name, c)}`;
}

function tokenFor(connection: string, c: Extract<HttpCredential, { oauth2: unknown } | { google: unknown }>): Promise<string> {
  let cache = caches.get(c);
  if (!cache) {
    const mint = 'oauth2' in c ? () => mintOAuth2(c.oauth2) : () => mintGoogle(c.google);
    caches.set(c, (cache = new TokenCache(() => named(connection, 'oauth2' in c ? 'an OAuth2' : 'a Google service-account', mint))));
  }
  return cache.get();
}

async function named(connection: string, kind: string, mint: () => Promise<Minted>): Promise<Minted> {
  try {
    return await mint();
  } catch (e) {
    // Only our own messages are shown; anything else is named by its kind alone.
    const why = e instanceof CredentialError ? e.message : `an unexpected ${(e as Error).name ?? 'error'}`;
    throw new CredentialError(`cannot get ${kind} token for connection "${connection}": ${why}`);
  }
}
