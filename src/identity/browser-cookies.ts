// The gateway's own browser cookies, and how they are kept away from targets. The console and
// the browser login live on the gateway's origin; in the path form of the proxy
// (/proxy/<connection>/...) so do the targets' answers, so a target must neither receive these
// cookies nor set or overwrite them.

/** The browser login's and the console's session cookie: a gateway token. */
export const SESSION_COOKIE = 'warden_session';
/** The pending OIDC login (its state and PKCE verifier), under /auth. */
export const LOGIN_COOKIE = 'warden_login';

const OWN = new Set([SESSION_COOKIE, LOGIN_COOKIE]);

/** Is a cookie of this name the gateway's own? (names compared without case: a browser may keep both spellings) */
export function isWardenCookie(name: string): boolean {
  return OWN.has(name.trim().toLowerCase());
}

/** A Cookie header without the gateway's own cookies; null when nothing else is left. */
export function withoutWardenCookies(header: string): string | null {
  const kept = header.split(';').filter((part) => {
    const i = part.indexOf('=');
    return !isWardenCookie(i >= 0 ? part.slice(0, i) : part);
  });
  const out = kept.map((p) => p.trim()).filter(Boolean).join('; ');
  return out || null;
}
