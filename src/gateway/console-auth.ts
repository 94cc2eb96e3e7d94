// The web console's login and the rules for its session cookie.
//
// The console never holds a token in JavaScript: a login (the admin token printed at first
// start, or any API key; a local user's password; the OIDC flow of auth-routes.ts) is
// exchanged for a short-lived gateway token in an HttpOnly cookie. Such a cookie is a
// cross-site request forgery risk, so a cookie authenticates:
//  - reads (GET, HEAD) under /api/v1/, and
//  - writes only when they carry the X-Warden-Console header (a custom header, which no
//    other site can add without a CORS preflight this gateway never grants) and, when the
//    browser sends an Origin, the gateway's own origin.
// A write without them, sent with only a cookie, is refused before any route runs. A request
// with its own Authorization header is judged by that header alone, as before.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isGatewayToken } from '../identity/gateway-token.ts';
import type { Services } from './services.ts';
import { HttpError, SESSION_COOKIE } from './http-api.ts';
import { readCookie } from './auth-routes.ts';

export const CSRF_HEADER = 'x-warden-console';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Session cookie: Strict for logins made on the console itself (no cross-site navigation ever carries it). */
export function sessionCookie(value: string, maxAgeSec: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** True when the request's Origin (if any) is this gateway's own (scheme, host and port). */
function sameOrigin(req: FastifyRequest, publicUrl: string | undefined): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser's cross-site request (browsers send Origin on cross-site writes)
  if (origin === 'null') return false;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (publicUrl && o.origin === new URL(publicUrl).origin) return true;
  return o.host === req.headers.host && (o.protocol === 'http:' || o.protocol === 'https:');
}

/** Is this a console write that may use the cookie? (the custom header and a same-origin Origin) */
export function consoleWrite(req: FastifyRequest, publicUrl: string | undefined): boolean {
  return typeof req.headers[CSRF_HEADER] === 'string' && sameOrigin(req, publicUrl);
}

/**
 * Install the cookie rules on every route of the HTTP listener. A cookie-carrying request
 * gets the cookie's token as its bearer, so every /api/v1 route (reviews, agents, SSH keys)
 * accepts the console's session the same way it accepts the CLI's token.
 */
export function installCookieRules(app: FastifyInstance, publicUrl: string | undefined): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.headers.authorization) return;
    // Only the API takes the cookie: never /proxy, /git or /mcp, whose requests go to targets,
    // nor a WebSocket upgrade (browsers send cookies on cross-origin WebSocket handshakes).
    // (A prefix test: this runs on every request of the listener, the proxy's included.)
    if (!req.url.startsWith('/api/v1/') || req.headers.upgrade !== undefined) return;
    let token: string | null;
    try {
      token = readCookie(req, SESSION_COOKIE);
    } catch {
      return reply.status(400).send({ error: 'malformed session cookie; log in again' }); // bad %-escapes
    }
    if (!token) return;
    if (!SAFE.has(req.method) && !consoleWrite(req, publicUrl)) {
      return reply.status(403).send({ error: `a write authenticated by the console cookie needs the ${CSRF_HEADER} header and a same-origin request` });
    }
    req.headers.authorization = `Bearer ${token}`;
  });
}

/** POST /auth/session: a token or a local user's password -> the session cookie. */
export function mountConsoleLogin(app: FastifyInstance, services: Services): void {
  const auth = services.config.auth;
  app.post('/auth/session', async (req, reply) => {
    // A login is a write too: another site must not log a browser into the attacker's account.
    if (!consoleWrite(req, auth.publicUrl)) throw new HttpError(403, `log in from the console (the ${CSRF_HEADER} header and a same-origin request are required)`);
    const b = (req.body ?? {}) as { token?: unknown; username?: unknown; password?: unknown };
    const ctx = { clientAddr: req.ip, frontDoor: 'http' };
    let minted: { token: string; expiresIn: number };
    if (typeof b.token === 'string' && b.token) {
      // An API key (the admin token of the first start, or any other). A gateway token cannot
      // renew itself, and people with an identity provider use its login.
      if (isGatewayToken(b.token)) throw new HttpError(400, 'token: give an API key (wdn_...), not a gateway token');
      const o = await services.authenticateDetailed(b.token, ctx);
      if (!o.ok) throw new HttpError(o.reason === 'rate_limited' ? 429 : 401, o.reason === 'rate_limited' ? 'too many failed attempts; try again later' : 'invalid, expired or revoked token');
      if (o.identity.kind !== 'apikey') throw new HttpError(400, 'token: give an API key; people with an identity provider log in through it');
      minted = await services.issueForLogin(o.identity, ctx, 'console-token');
    } else if (typeof b.username === 'string' && typeof b.password === 'string') {
      if (services.identity.oidcConfigured) throw new HttpError(400, 'local logins are off: an identity provider is configured (log in at /auth/login)');
      const o = await services.identity.loginLocal(b.username, b.password, ctx);
      if (!o.ok) throw new HttpError(o.reason === 'rate_limited' || o.reason === 'too_many_logins' ? 429 : 401, o.reason === 'rate_limited' || o.reason === 'too_many_logins' ? 'too many attempts; try again later' : 'unknown user or wrong password');
      minted = await services.issueForLogin(o.identity, ctx, 'console-password');
    } else {
      throw new HttpError(400, 'expected {"token": <API key>} or {"username", "password"}');
    }
    void reply.header('set-cookie', sessionCookie(minted.token, minted.expiresIn, auth.secureCookie));
    void reply.header('cache-control', 'no-store');
    return { ok: true, expiresIn: minted.expiresIn };
  });
}
