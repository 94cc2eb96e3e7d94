// A token request to an OAuth2 token endpoint (RFC 6749 section 3.2), shared by the OAuth2 and
// Google grants: a form POST, no redirects followed (a client secret or assertion is not sent
// on to wherever a redirect points), a bounded wait and a bounded answer. What goes wrong is
// said without the secret: the status and the IdP's standard error code, never the form or
// the answer's description text.
import type { Minted } from './cache.ts';

/** A credential could not be minted; the message is safe to show a caller. */
export class CredentialError extends Error {}

const TIMEOUT_MS = 10_000;
const MAX_ANSWER = 64 * 1024;
/** Without `expires_in` (or a JWT `exp`), a token is trusted this long. */
const DEFAULT_LIFE_S = 300;

export interface TokenAnswer {
  [field: string]: unknown;
}

export async function requestToken(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'TimeoutError' ? `no answer in ${TIMEOUT_MS / 1000} s` : (err.cause?.code ?? err.name);
    throw new CredentialError(`the token endpoint could not be reached (${why})`);
  }
  const text = await readBounded(res);
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // said below, with the status
  }
  if (!res.ok) {
    const code = body && typeof body === 'object' ? (body as TokenAnswer).error : undefined;
    const shown = typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? ` (${code})` : '';
    throw new CredentialError(`the token endpoint answered ${res.status}${shown}`);
  }
  if (!body || typeof body !== 'object') throw new CredentialError('the token endpoint answered with something that is not a JSON object');
  return body as TokenAnswer;
}

/** The token in `field` of an answer, with its expiry: `expires_in`, else the JWT's `exp`, else a short default. */
export function tokenFrom(answer: TokenAnswer, field: 'access_token' | 'id_token', now = Date.now()): Minted {
  const value = answer[field];
  // It goes into a header: printable ASCII only, nothing that could start another header.
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) throw new CredentialError(`the token endpoint's answer has no usable ${field}`);
  if (field === 'access_token' && answer.token_type !== undefined && String(answer.token_type).toLowerCase() !== 'bearer') {
    throw new CredentialError(`the token endpoint gave a token of type "${String(answer.token_type).slice(0, 32)}", Warden sends Bearer tokens only`);
  }
  const seconds = Number(answer.expires_in);
  if (answer.expires_in !== undefined && Number.isFinite(seconds) && seconds > 0) return { value, expiresAt: now + seconds * 1000 };
  const exp = jwtExp(value);
  return { value, expiresAt: exp !== null ? exp * 1000 : now + DEFAULT_LIFE_S * 1000 };
}

function jwtExp(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const exp = (JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}

async function readBounded(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += c.length;
    if (size > MAX_ANSWER) throw new CredentialError(`the token endpoint's answer is larger than ${MAX_ANSWER} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}
