// A real OpenID provider (oidc-provider 9) running in-process for identity tests.
//
// Tests must exercise discovery, JWKS fetching, auth code + PKCE, device code, client
// credentials, refresh and key rotation against a server that implements the specs, not
// a token stub. This helper configures one provider with:
//   - a public native client (`warden-cli`, loopback redirect, PKCE, device code, refresh)
//   - a confidential service client (client_credentials), whose tokens carry its groups
//   - JWT access tokens for one resource indicator, audience `warden` by default
//   - a `groups` claim from a small in-memory account store
//   - key rotation by swapping in a new Provider with a new JWKS on the same port
// Interactions (login, consent) are a tiny JSON API instead of HTML pages, so `completeBrowserLogin`
// and `approveDeviceCode` can play the browser with plain HTTP requests.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
// @ts-expect-error oidc-provider ships no type declarations and @types/oidc-provider is not installed
import Provider, { errors as providerErrors } from 'oidc-provider';

export interface TestAccount {
  sub: string;
  email: string;
  name: string;
  groups: string[];
}

export interface ServiceClient {
  clientId: string;
  clientSecret: string;
  groups: string[];
}

export interface StartOidcProviderOptions {
  /** `aud` of JWT access tokens. Default `warden`. */
  audience?: string;
  /** signing algorithm of the provider's key. Default RS256. */
  alg?: 'RS256' | 'ES256' | 'PS256' | 'EdDSA';
  accounts?: TestAccount[];
  serviceClients?: ServiceClient[];
  /** access token / client credentials TTL. Default 600 s. */
  accessTokenTtlSec?: number;
}

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicJwk: JWK;
}

export interface UserTokens {
  accessToken: string;
  idToken: string;
  refreshToken?: string;
}

export interface TestOidcProvider {
  issuer: string;
  audience: string;
  /** resource indicator that maps to `audience` (the provider's default resource) */
  resource: string;
  /** public native client: auth code + PKCE, device code, refresh */
  cliClientId: string;
  accounts: TestAccount[];
  serviceClients: ServiceClient[];
  /** number of GET requests the JWKS endpoint served (to check caching / cooldown) */
  jwksFetches(): number;
  /** the key new tokens are signed with */
  currentKey(): SigningKey;
  /** new signing key; the old one stays published unless `dropOld` */
  rotateKeys(opts?: { dropOld?: boolean }): Promise<SigningKey>;
  /** sign arbitrary claims with the provider's real key: for expired / not-yet-valid cases */
  signWithProviderKey(payload: JWTPayload, header?: { kid?: string; typ?: string }): Promise<string>;
  /**
   * Real user tokens: auth code + PKCE for the CLI client, driven headlessly (plain HTTP,
   * independent of the openid-client code under test).
   */
  userTokens(accountId: string, scope?: string): Promise<UserTokens>;
  /** client_credentials grant at the token endpoint (a real request) */
  clientCredentialsToken(client?: ServiceClient): Promise<string>;
  close(): Promise<void>;
}

const RESOURCE = 'urn:warden:gateway';

const DEFAULT_ACCOUNTS: TestAccount[] = [
  { sub: 'alice', email: 'alice@example.test', name: 'Alice Admin', groups: ['admins', 'engineers'] },
  { sub: 'bob', email: 'bob@example.test', name: 'Bob Builder', groups: ['engineers'] },
  { sub: 'eve', email: 'eve@example.test', name: 'Eve Outsider', groups: [] },
];

const DEFAULT_SERVICE_CLIENTS: ServiceClient[] = [
  { clientId: 'agent-ci', clientSecret: 'agent-ci-secret-' + 'x'.repeat(16), groups: ['ai-agents'] },
];

function generateSigningKey(alg: string): SigningKey {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const publicJwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

function privateJwk(k: SigningKey): JWK {
  return { ...(k.privateKey.export({ format: 'jwk' }) as JWK), kid: k.kid, alg: k.alg, use: 'sig' };
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startOidcProvider(opts: StartOidcProviderOptions = {}): Promise<TestOidcProvider> {
  const audience = opts.audience ?? 'warden';
  const alg = opts.alg ?? 'RS256';
  const accounts = opts.accounts ?? DEFAULT_ACCOUNTS;
  const serviceClients = opts.serviceClients ?? DEFAULT_SERVICE_CLIENTS;
  const ttl = opts.accessTokenTtlSec ?? 600;
  const cookieKeys = [randomBytes(32).toString('base64url')];

  let keys: SigningKey[] = [generateSigningKey(alg)];
  let jwksFetches = 0;
  let provider: any;

  const server = createServer((req, res) => {
    void handle(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  function groupsFor(accountId: string | undefined, clientId: string | undefined): string[] | undefined {
    if (accountId) return accounts.find((a) => a.sub === accountId)?.groups;
    return serviceClients.find((c) => c.clientId === clientId)?.groups;
  }

  function build(): any {
    const p = new Provider(issuer, {
      clients: [
        {
          client_id: 'warden-cli',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          // Native loopback redirect: oidc-provider ignores the port (RFC 8252 §7.3).
          // ... and the gateway's own browser login (/auth/callback), for the same reason.
          redirect_uris: ['http://127.0.0.1/callback', 'http://127.0.0.1/auth/callback'],
          grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
          response_types: ['code'],
        },
        ...serviceClients.map((c) => ({
          client_id: c.clientId,
          client_secret: c.clientSecret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
        })),
      ],
      jwks: { keys: keys.map(privateJwk) },
      // Clients default to RS256 ID tokens; follow the provider's key type instead.
      clientDefaults: { id_token_signed_response_alg: alg },
      cookies: { keys: cookieKeys },
      scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
      // Put scope claims (groups, email) into the ID token even when an access token is issued.
      conformIdTokenClaims: false,
      async findAccount(_ctx: unknown, sub: string) {
        const a = accounts.find((x) => x.sub === sub);
        if (!a) return undefined;
        return { accountId: a.sub, claims: async () => ({ sub: a.sub, email: a.email, email_verified: true, name: a.name, groups: a.groups }) };
      },
      // First-party test clients: grant everything requested, so no consent prompt.
      async loadExistingGrant(ctx: any) {
        const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        if (grantId) return ctx.oidc.provider.Grant.find(grantId);
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid offline_access email profile groups');
        grant.addResourceScope(RESOURCE, 'warden:access');
        await grant.save();
        return grant;
      },
      extraTokenClaims(_ctx: unknown, token: any) {
        const groups = groupsFor(token.accountId, token.clientId);
        return groups ? { groups } : undefined;
      },
      features: {
        devInteractions: { enabled: false },
        deviceFlow: {
          enabled: true,
          async userCodeInputSource(ctx: any, form: string) { ctx.body = form; },
          async userCodeConfirmSource(ctx: any, form: string) { ctx.body = form; },
          async successSource(ctx: any) { ctx.body = 'device approved'; },
        },
        clientCredentials: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo(_ctx: unknown, indicator: string) {
            if (indicator !== RESOURCE) throw new providerErrors.InvalidTarget();
            return { scope: 'warden:access', audience, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
          },
        },
      },
      interactions: { url: (_ctx: unknown, interaction: any) => `/interaction/${interaction.uid}` },
      ttl: {
        AccessToken: ttl,
        ClientCredentials: ttl,
        IdToken: 3600,
        DeviceCode: 600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
        RefreshToken: 86400,
      },
      async renderError(ctx: any, out: unknown) {
        ctx.type = 'json';
        ctx.body = out;
      },
    });
    // openid-client polls the device grant every `interval` s (default 5); keep tests quick.
    p.on('device_authorization.success', (_ctx: unknown, body: Record<string, unknown>) => {
      body.interval = 1;
    });
    return p;
  }

  provider = build();

  // The interaction "UI": GET tells which prompt is pending; POST .../login logs in an
  // account, POST .../consent grants what the client asked for.
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer);
    const m = /^\/interaction\/([^/]+)(?:\/(login|consent))?$/.exec(url.pathname);
    if (!m) {
      if (url.pathname === '/jwks' && req.method === 'GET') jwksFetches++;
      provider.callback()(req, res);
      return;
    }
    if (req.method === 'GET' && !m[2]) {
      const details = await provider.interactionDetails(req, res);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name }));
      return;
    }
    if (req.method === 'POST' && m[2] === 'login') {
      const form = await readForm(req);
      const accountId = form.get('login') ?? '';
      if (!accounts.some((a) => a.sub === accountId)) {
        res.statusCode = 403;
        res.end('unknown account');
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
      return;
    }
    if (req.method === 'POST' && m[2] === 'consent') {
      // Explicit consent (prompt=consent, required by OIDC for offline_access): grant what is missing.
      const { prompt, grantId, session, params } = await provider.interactionDetails(req, res);
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, (scope as string[]).join(' '));
      }
      const result = { consent: { grantId: await grant.save() } };
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
      return;
    }
    res.statusCode = 405;
    res.end();
  }

  return {
    issuer,
    audience,
    resource: RESOURCE,
    cliClientId: 'warden-cli',
    accounts,
    serviceClients,
    jwksFetches: () => jwksFetches,
    currentKey: () => keys[0],
    async rotateKeys({ dropOld = false } = {}) {
      const fresh = generateSigningKey(alg);
      keys = dropOld ? [fresh] : [fresh, ...keys];
      // A new Provider on the same port and the same (module-global) memory adapter:
      // sessions, grants and refresh tokens survive, only the keystore changes.
      provider = build();
      return fresh;
    },
    async signWithProviderKey(payload, header = {}) {
      const k = keys[0];
      return new SignJWT(payload)
        .setProtectedHeader({ alg: k.alg, kid: header.kid ?? k.kid, typ: header.typ ?? 'at+jwt' })
        .sign(k.privateKey);
    },
    async userTokens(accountId, scope = 'openid email profile groups offline_access') {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const redirectUri = 'http://127.0.0.1:9/callback'; // never contacted: we read the redirect
      const auth = new URL(`${issuer}/auth`);
      auth.search = new URLSearchParams({
        client_id: 'warden-cli', response_type: 'code', redirect_uri: redirectUri, scope, prompt: 'consent',
        code_challenge: challenge, code_challenge_method: 'S256', state: 'st',
      }).toString();
      const cb = await completeBrowserLogin(auth.href, accountId);
      const code = cb.searchParams.get('code');
      if (!code) throw new Error(`no code in ${cb.href}`);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'warden-cli', code_verifier: verifier }),
      });
      const body = (await res.json()) as { access_token?: string; id_token?: string; refresh_token?: string };
      if (!res.ok || !body.access_token || !body.id_token) throw new Error(`code exchange failed: ${res.status} ${JSON.stringify(body)}`);
      return { accessToken: body.access_token, idToken: body.id_token, ...(body.refresh_token ? { refreshToken: body.refresh_token } : {}) };
    },
    async clientCredentialsToken(client = serviceClients[0]) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'Basic ' + Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64'),
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE, scope: 'warden:access' }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token) throw new Error(`client_credentials failed: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- headless "browser" ------------------------------------------------------------

/** Minimal cookie jar: one origin, names only (paths ignored; extra cookies are harmless here). */
class CookieJar {
  private cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function step(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const cookie = jar.header();
  if (cookie) headers.set('cookie', cookie);
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(res);
  return res;
}

/**
 * Follow redirects from `startUrl` on the provider, logging in `accountId` at the login
 * prompt, until the provider redirects somewhere else (the client's redirect URI) or
 * answers with a page. Returns the last response and, if any, the off-provider location.
 */
async function browse(jar: CookieJar, startUrl: string, accountId: string, init?: RequestInit): Promise<{ res: Response; leftTo?: string }> {
  let res = await step(jar, startUrl, init);
  for (let hops = 0; hops < 20; hops++) {
    const location = res.headers.get('location');
    const base = res.url || startUrl;
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, base);
      if (next.origin !== new URL(startUrl).origin) return { res, leftTo: next.href };
      res = await step(jar, next.href);
      continue;
    }
    const type = res.headers.get('content-type') ?? '';
    if (res.ok && type.includes('application/json') && /\/interaction\/[^/]+$/.test(new URL(base).pathname)) {
      const { prompt } = (await res.json()) as { prompt: string };
      if (prompt !== 'login' && prompt !== 'consent') throw new Error(`unexpected interaction prompt: ${prompt}`);
      res = await step(jar, `${base}/${prompt}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login: accountId }),
      });
      continue;
    }
    return { res };
  }
  throw new Error('too many redirects');
}

/**
 * Play the browser for an authorization URL: log in `accountId` and return the redirect
 * back to the client (…/callback?code=…&state=…). With `deliver`, also GET that URL, as a
 * browser would, so a loopback listener receives it.
 */
export async function completeBrowserLogin(authUrl: string, accountId: string, opts: { deliver?: boolean } = {}): Promise<URL> {
  const jar = new CookieJar();
  const { res, leftTo } = await browse(jar, authUrl, accountId);
  if (!leftTo) throw new Error(`login did not redirect back: ${res.status} ${await res.text()}`);
  if (opts.deliver) {
    const cb = await fetch(leftTo);
    await cb.text();
  }
  return new URL(leftTo);
}

/** Approve a device code as `accountId`: enter the user code, confirm, log in. */
export async function approveDeviceCode(issuer: string, userCode: string, accountId: string): Promise<void> {
  const jar = new CookieJar();
  const xsrfOf = (html: string): string => {
    const m = /name="xsrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error(`no xsrf in device page: ${html.slice(0, 200)}`);
    return m[1];
  };
  const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  const page = await step(jar, `${issuer}/device`);
  const xsrf = xsrfOf(await page.text());
  const confirmPage = await step(jar, `${issuer}/device`, { ...form, body: new URLSearchParams({ xsrf, user_code: userCode }) });
  const xsrf2 = xsrfOf(await confirmPage.text());
  const { res } = await browse(jar, `${issuer}/device`, accountId, {
    ...form,
    body: new URLSearchParams({ xsrf: xsrf2, user_code: userCode, confirm: 'yes' }),
  });
  const text = await res.text();
  if (!text.includes('device approved')) throw new Error(`device approval failed: ${res.status} ${text.slice(0, 300)}`);
}

/** A key nobody published (random kid): for unknown-kid and forged-signature attacks. */
export function foreignKey(alg: 'RS256' | 'ES256' = 'RS256'): SigningKey {
  return generateSigningKey(alg);
}
