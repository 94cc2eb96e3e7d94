// Client side of `warden login` / `logout` / `whoami`, on openid-client 6:
//  - browser: authorization code + PKCE (S256) with a loopback redirect listener
//  - device:  the device authorization grant, for machines without a browser (`--device`)
// Tokens land in the user's config dir (login-store.ts) and are refreshed with the refresh
// token when they are about to expire.
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { openBrowser, startLoopbackListener } from './login-browser.ts';
import { credentialsPath, deleteCredentials, loadCredentials, saveCredentials, type StoredCredentials } from './login-store.ts';

export interface LoginConfig {
  issuer: string;
  /** the CLI's client id at the IdP (a public, native client) */
  clientId: string;
  /** only for IdPs that insist on a secret for native clients; PKCE is used either way */
  clientSecret?: string;
  /** default `openid profile email offline_access` (offline_access: to get a refresh token) */
  scope?: string;
  /** extra authorization request parameters, e.g. `{ audience: 'warden' }` (Auth0) or `{ resource }` */
  authParams?: Record<string, string>;
  /** allow a plain-http issuer; default true only for loopback hosts (tests, local IdPs) */
  allowInsecure?: boolean;
  /** credentials file; default `credentialsPath()` */
  path?: string;
}

const DEFAULT_SCOPE = 'openid profile email offline_access';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export async function discoverClient(cfg: LoginConfig): Promise<oidc.Configuration> {
  const url = new URL(cfg.issuer);
  const insecure = cfg.allowInsecure ?? LOOPBACK.has(url.hostname);
  const auth = cfg.clientSecret ? oidc.ClientSecretPost(cfg.clientSecret) : oidc.None();
  return oidc.discovery(url, cfg.clientId, undefined, auth, insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
}

function authParams(cfg: LoginConfig): Record<string, string> {
  const scope = cfg.scope ?? DEFAULT_SCOPE;
  // OIDC Core §11: offline_access is only honoured together with prompt=consent.
  const params: Record<string, string> = { scope };
  if (scope.split(' ').includes('offline_access')) params.prompt = 'consent';
  return { ...params, ...cfg.authParams };
}

function toStored(cfg: LoginConfig, t: oidc.TokenEndpointResponse, previous?: StoredCredentials): StoredCredentials {
  const now = Date.now();
  return {
    version: 1,
    issuer: cfg.issuer,
    clientId: cfg.clientId,
    accessToken: t.access_token,
    // A refresh response may omit the ID token and (without rotation) the refresh token.
    ...((t.id_token ?? previous?.idToken) ? { idToken: t.id_token ?? previous?.idToken } : {}),
    ...((t.refresh_token ?? previous?.refreshToken) ? { refreshToken: t.refresh_token ?? previous?.refreshToken } : {}),
    ...(typeof t.expires_in === 'number' ? { expiresAt: now + t.expires_in * 1000 } : {}),
    ...((t.scope ?? previous?.scope) ? { scope: t.scope ?? previous?.scope } : {}),
    obtainedAt: now,
  };
}

export interface BrowserLoginOptions {
  /** called with the authorization URL; the CLI prints it (always: the browser may not open) */
  onUrl?: (url: string) => void | Promise<void>;
  /** try to open a browser (only where one can be shown). Default true. */
  openBrowser?: boolean;
  /** loopback port; default a random free one (the IdP must allow any loopback port) */
  port?: number;
  timeoutMs?: number;
}

export async function loginWithBrowser(cfg: LoginConfig, opts: BrowserLoginOptions = {}): Promise<StoredCredentials> {
  const config = await discoverClient(cfg);
  const state = oidc.randomState();
  const verifier = oidc.randomPKCECodeVerifier();
  const listener = await startLoopbackListener({ expectedState: state, port: opts.port, timeoutMs: opts.timeoutMs });
  try {
    const url = oidc.buildAuthorizationUrl(config, {
      ...authParams(cfg),
      redirect_uri: listener.redirectUri,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    await opts.onUrl?.(url.href);
    if (opts.openBrowser ?? true) openBrowser(url.href);
    const callbackUrl = await listener.callback;
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
    const creds = toStored(cfg, tokens);
    saveCredentials(creds, cfg.path);
    return creds;
  } finally {
    listener.close();
  }
}

export interface DeviceCodeInfo {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresIn: number;
}

export async function loginWithDevice(
  cfg: LoginConfig,
  opts: { onCode?: (c: DeviceCodeInfo) => void | Promise<void>; signal?: AbortSignal } = {},
): Promise<StoredCredentials> {
  const config = await discoverClient(cfg);
  const { prompt: _prompt, ...params } = authParams(cfg); // prompt is not a device flow parameter
  const d = await oidc.initiateDeviceAuthorization(config, params);
  await opts.onCode?.({
    userCode: d.user_code,
    verificationUri: d.verification_uri,
    ...(d.verification_uri_complete ? { verificationUriComplete: d.verification_uri_complete } : {}),
    expiresIn: d.expires_in,
  });
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, d, undefined, opts.signal ? { signal: opts.signal } : undefined);
  const creds = toStored(cfg, tokens);
  saveCredentials(creds, cfg.path);
  return creds;
}

/** Refresh now with the stored refresh token and save the result. */
export async function refreshCredentials(cfg: LoginConfig): Promise<StoredCredentials> {
  const current = loadCredentials(cfg.path);
  if (!current?.refreshToken) throw new Error('not logged in (or no refresh token): run `warden login`');
  const config = await discoverClient(cfg);
  const tokens = await oidc.refreshTokenGrant(config, current.refreshToken);
  const creds = toStored(cfg, tokens, current);
  saveCredentials(creds, cfg.path);
  return creds;
}

/** An access token valid for at least `minValiditySec` more seconds, refreshing when needed. */
export async function getAccessToken(cfg: LoginConfig, minValiditySec = 60): Promise<string> {
  const current = loadCredentials(cfg.path);
  if (!current) throw new Error('not logged in: run `warden login`');
  if (current.issuer !== cfg.issuer) throw new Error(`stored login is for ${current.issuer}, not ${cfg.issuer}: run \`warden login\``);
  const fresh = current.expiresAt === undefined || current.expiresAt - Date.now() > minValiditySec * 1000;
  if (fresh) return current.accessToken;
  return (await refreshCredentials(cfg)).accessToken;
}

/**
 * Forget the stored login. With `cfg`, also revoke the refresh token at the IdP (best
 * effort: a dead IdP must not keep tokens on disk). Returns whether a login was stored.
 */
export async function logout(cfg?: LoginConfig, path: string = cfg?.path ?? credentialsPath()): Promise<boolean> {
  const current = loadCredentials(path);
  if (cfg && current?.refreshToken) {
    try {
      const config = await discoverClient(cfg);
      if (config.serverMetadata().revocation_endpoint) await oidc.tokenRevocation(config, current.refreshToken);
    } catch {
      /* best effort */
    }
  }
  return deleteCredentials(path);
}

export interface WhoAmI {
  issuer: string;
  subject: string;
  name: string;
  groups: string[];
  /** access token expiry, ms since epoch */
  expiresAt?: number;
}

/**
 * What the stored login says about the user, read from the stored ID token (falling back
 * to the access token). Not verified: this is the user's own file, shown to the user;
 * the gateway verifies every token it receives.
 */
export function whoami(path: string = credentialsPath(), groupsClaim = 'groups'): WhoAmI | null {
  const c = loadCredentials(path);
  if (!c) return null;
  let claims: Record<string, unknown> = {};
  for (const t of [c.idToken, c.accessToken]) {
    if (!t) continue;
    try {
      claims = { ...decodeJwt(t), ...claims };
    } catch {
      /* opaque access token */
    }
  }
  const str = (k: string): string | undefined => (typeof claims[k] === 'string' ? (claims[k] as string) : undefined);
  const groups = Array.isArray(claims[groupsClaim]) ? (claims[groupsClaim] as unknown[]).filter((g): g is string => typeof g === 'string') : [];
  return {
    issuer: c.issuer,
    subject: str('sub') ?? '',
    name: str('email') ?? str('preferred_username') ?? str('name') ?? str('sub') ?? '',
    groups,
    ...(c.expiresAt !== undefined ? { expiresAt: c.expiresAt } : {}),
  };
}
