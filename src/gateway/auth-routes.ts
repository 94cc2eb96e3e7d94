// The identity routes of the HTTP API: what a client needs to log in, the token exchange
// for agents, the local login, revocation, local users, and the gateway's own browser
// login (auth code + PKCE) whose HttpOnly cookie the web UI will use.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type * as oidcTypes from 'openid-client';
import type { Identity } from '../identity/types.ts';
import type { AuthOutcome } from '../identity/identity-service.ts';
import { verifyGatewayToken, isGatewayToken } from '../identity/gateway-token.ts';
import { parseDuration } from '../config/duration.ts';
import type { Services } from './services.ts';
import { HttpError, requestToken, SESSION_COOKIE } from './http-api.ts';
import { bearerToken } from '../identity/bearer.ts';
import { sameOriginPath } from './return-to.ts';
import { LOGIN_COOKIE } from '../identity/browser-cookies.ts';

const PENDING_MAX = 1000;
const PENDING_TTL_MS = 10 * 60_000;

interface PendingLogin {
  verifier: string;
  nonce: string;
  returnTo: string;
  expires: number;
}

function cookie(name: string, value: string, opts: { maxAgeSec: number; path: string; secure: boolean }): string {
  return `${name}=${encodeURIComponent(value)}; Path=${opts.path}; Max-Age=${opts.maxAgeSec}; HttpOnly; SameSite=Lax${opts.secure ? '; Secure' : ''}`;
}

export function readCookie(req: FastifyRequest, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}


const grant = (t: { token?: string; expiresIn?: number }) => ({ access_token: t.token, token_type: 'Bearer', expires_in: t.expiresIn });

function refused(o: Extract<AuthOutcome, { ok: false }>): HttpError {
  if (o.reason === 'rate_limited') return new HttpError(429, 'too many failed attempts; try again later');
  if (o.reason === 'too_many_logins') return new HttpError(429, 'too many logins in progress; try again shortly');
  if (o.reason === 'not_exchangeable') return new HttpError(403, o.message);
  return new HttpError(401, 'invalid or expired credential');
}

export function mountAuthRoutes(app: FastifyInstance, services: Services, log: Logger): void {
  const auth = services.config.auth;
  const pending = new Map<string, PendingLogin>();

  async function caller(req: FastifyRequest): Promise<Identity> {
    const token = requestToken(req);
    if (!token) throw new HttpError(401, 'missing bearer token');
    const o = await services.authenticateDetailed(token, { clientAddr: req.ip, frontDoor: 'http' });
    if (!o.ok) throw o.reason === 'rate_limited' ? refused(o) : new HttpError(401, 'invalid or expired token');
    return o.identity;
  }
  async function admin(req: FastifyRequest): Promise<Identity> {
    const who = await caller(req);
    if (!services.hasRole(who, 'admin')) throw new HttpError(403, 'admin role required');
    return who;
  }

  app.get('/api/v1/auth/config', async () => services.authConfig());

  // Agents: an API key or an IdP client-credentials token (as the bearer) -> a gateway token.
  app.post('/api/v1/auth/token', async (req) => {
    const credential = bearerToken(req.headers.authorization);
    if (!credential) throw new HttpError(401, 'missing bearer credential (an API key or a client-credentials access token)');
    const b = (req.body ?? {}) as { ttl?: unknown };
    let ttlSec: number | undefined;
    if (b.ttl !== undefined) {
      try {
        ttlSec = Math.ceil(parseDuration(String(b.ttl)) / 1000);
      } catch (e) {
        throw new HttpError(400, `ttl: ${(e as Error).message}`);
      }
    }
    const o = await services.exchangeToken(credential, { clientAddr: req.ip, frontDoor: 'http' }, ttlSec);
    if (!o.ok) throw refused(o);
    return grant(o);
  });

  // Local mode: a local user's name and password -> a gateway token.
  app.post('/api/v1/auth/login', async (req) => {
    const b = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (typeof b.username !== 'string' || typeof b.password !== 'string') throw new HttpError(400, 'username and password are required');
    const o = await services.loginLocal(b.username, b.password, { clientAddr: req.ip, frontDoor: 'http' });
    if (!o.ok) throw o.reason === 'rate_limited' || o.reason === 'too_many_logins' ? refused(o) : new HttpError(401, 'unknown user or wrong password');
    return grant(o);
  });

  // A gateway token's holder may revoke it (RFC 7009 style); an admin may revoke any by jti.
  app.post('/api/v1/auth/revoke', async (req) => {
    const b = (req.body ?? {}) as { token?: unknown; jti?: unknown; expiresAt?: unknown };
    if (typeof b.token === 'string' && isGatewayToken(b.token)) {
      let id: Identity;
      try {
        id = verifyGatewayToken(services.identity.key.publicKey, b.token);
      } catch {
        return { revoked: false }; // not ours, expired or already revoked: nothing to do
      }
      await services.revokeTokenId(id.credentialId!, id.expiresAt ?? Date.now() + 86_400_000, id.name);
      return { revoked: true };
    }
    if (typeof b.jti === 'string' && b.jti) {
      const who = await admin(req);
      const exp = typeof b.expiresAt === 'number' ? b.expiresAt : Date.now() + 86_400_000;
      await services.revokeTokenId(b.jti, exp, who.name);
      return { revoked: true };
    }
    throw new HttpError(400, 'expected {"token": <gateway token>} or {"jti": <token id>} (admin)');
  });

  app.delete('/api/v1/tokens/:id', async (req) => {
    const who = await admin(req);
    const n = await services.revokeToken((req.params as { id: string }).id, who.name);
    if (!n) throw new HttpError(404, 'no such active token');
    return { revoked: n };
  });

  app.get('/api/v1/users', async (req) => {
    await admin(req);
    return services.listUsers();
  });
  app.post('/api/v1/users', async (req, reply) => {
    const who = await admin(req);
    const b = (req.body ?? {}) as { name?: unknown; password?: unknown; groups?: unknown };
    if (typeof b.name !== 'string' || typeof b.password !== 'string') throw new HttpError(400, 'name and password are required');
    if (b.groups !== undefined && (!Array.isArray(b.groups) || b.groups.some((g) => typeof g !== 'string' || !g))) throw new HttpError(400, 'groups: expected a list of group names');
    try {
      const u = await services.addUser(b.name, b.password, (b.groups as string[] | undefined) ?? [], who.name);
      return reply.status(201).send(u);
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
  });

  // Disable, not delete: the audit log keeps naming the user, and the name stays taken.
  app.delete('/api/v1/users/:name', async (req) => {
    const who = await admin(req);
    const name = (req.params as { name: string }).name;
    if (!(await services.disableUser(name, who.name))) throw new HttpError(404, `no enabled local user named "${name}"`);
    return { disabled: name };
  });

  // ---- the gateway's browser login -------------------------------------------------
  const o = auth.oidc;
  const loginConfig = o && { issuer: o.issuer, clientId: o.clientId, ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}) };
  // openid-client (with oauth4webapi, ~0.9 MB resident) loads on the first browser login,
  // not at start: most gateways never see one, and a module once imported stays for good.
  const openid = () => import('openid-client');
  let client: Promise<oidcTypes.Configuration> | null = null;
  const oidcClient = () => {
    client ??= import('../identity/login.ts').then(({ discoverClient }) => discoverClient(loginConfig!));
    client.catch(() => (client = null));
    return client;
  };
  const base = (req: FastifyRequest) => auth.publicUrl?.replace(/\/$/, '') ?? `${req.protocol}://${req.host}`;
  const secure = auth.secureCookie;

  app.get('/auth/login', async (req, reply: FastifyReply) => {
    if (!loginConfig) throw new HttpError(404, 'no identity provider is configured (local mode: POST /api/v1/auth/login)');
    const asked = (req.query as { returnTo?: unknown }).returnTo;
    const returnTo = asked === undefined ? '/' : typeof asked === 'string' ? sameOriginPath(asked) : null;
    if (returnTo === null) throw new HttpError(400, 'returnTo: expected a path on this gateway');
    const now = Date.now();
    for (const [k, p] of pending) if (p.expires < now || pending.size >= PENDING_MAX) pending.delete(k);
    const oidc = await openid();
    const state = oidc.randomState();
    const p: PendingLogin = { verifier: oidc.randomPKCECodeVerifier(), nonce: oidc.randomNonce(), returnTo, expires: now + PENDING_TTL_MS };
    pending.set(state, p);
    const url = oidc.buildAuthorizationUrl(await oidcClient(), {
      scope: (o!.scopes ?? ['openid', 'profile', 'email']).join(' '),
      ...o!.authParams,
      redirect_uri: `${base(req)}/auth/callback`,
      code_challenge: await oidc.calculatePKCECodeChallenge(p.verifier),
      code_challenge_method: 'S256',
      state,
      nonce: p.nonce,
    });
    // The state cookie binds the callback to this browser (login CSRF).
    void reply.header('set-cookie', cookie(LOGIN_COOKIE, state, { maxAgeSec: PENDING_TTL_MS / 1000, path: '/auth', secure }));
    return reply.redirect(url.href, 302);
  });

  app.get('/auth/callback', async (req, reply) => {
    if (!loginConfig) throw new HttpError(404, 'no identity provider is configured');
    const q = req.query as { state?: string };
    const state = readCookie(req, LOGIN_COOKIE);
    const p = state && q.state === state ? pending.get(state) : undefined;
    if (!p || p.expires < Date.now()) throw new HttpError(400, 'login expired or started in another browser; start again at /auth/login');
    pending.delete(state!);
    const ctx = { clientAddr: req.ip, frontDoor: 'http' };
    let tokens: oidcTypes.TokenEndpointResponse;
    try {
      const oidc = await openid();
      const current = new URL(`${base(req)}/auth/callback${req.url.slice(req.url.indexOf('?'))}`);
      tokens = await oidc.authorizationCodeGrant(await oidcClient(), current, { pkceCodeVerifier: p.verifier, expectedState: state!, expectedNonce: p.nonce, idTokenExpected: true });
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'browser login failed at the token endpoint');
      throw new HttpError(401, 'login failed');
    }
    // The access token (audience = the gateway) is what we verify; an IdP with opaque access tokens falls back to the ID token.
    let outcome = await services.authenticateDetailed(tokens.access_token, ctx);
    if (!outcome.ok && tokens.id_token && outcome.reason !== 'rate_limited') outcome = await services.authenticateDetailed(tokens.id_token, ctx);
    if (!outcome.ok) throw refused(outcome);
    const t = await services.issueForLogin(outcome.identity, ctx, 'oidc-browser');
    void reply.header('set-cookie', [
      cookie(SESSION_COOKIE, t.token, { maxAgeSec: t.expiresIn, path: '/', secure }),
      cookie(LOGIN_COOKIE, '', { maxAgeSec: 0, path: '/auth', secure }),
    ]);
    return reply.redirect(p.returnTo, 302);
  });

  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = readCookie(req, SESSION_COOKIE);
    if (token) {
      try {
        const id = verifyGatewayToken(services.identity.key.publicKey, token);
        await services.revokeTokenId(id.credentialId!, id.expiresAt ?? Date.now() + 86_400_000, id.name);
      } catch {
        /* already invalid: clearing the cookie is all that is left */
      }
    }
    void reply.header('set-cookie', cookie(SESSION_COOKIE, '', { maxAgeSec: 0, path: '/', secure }));
    return reply.redirect('/', 302);
  };
  // POST only: a GET could be fired by any page (an <img>) to log people out.
  app.post('/auth/logout', logout);
  app.get('/auth/logout', async (_req, reply) => reply.status(405).header('allow', 'POST').send({ error: 'log out with POST /auth/logout' }));
}
