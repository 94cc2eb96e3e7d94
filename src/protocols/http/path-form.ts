// Answers of the path form of the proxy (/proxy/<connection>/...) come from the gateway's own
// origin, the one the console and the browser login use. A target's page must not act there
// as the console's user, and a target's cookies must not reach other connections or replace
// the gateway's own, so such an answer:
// - carries `Content-Security-Policy: sandbox`: a browser shows it in an opaque origin, where
//   its scripts neither run nor reach the gateway's cookies or API (for a target's web UI, use
//   the host form, `gateway.proxyDomain`, which gives each connection an origin of its own);
// - has its cookies scoped to /proxy/<connection>/ (Domain dropped, Path put under it), and a
//   cookie named like one of the gateway's own is dropped.
// API clients (SDKs, curl) do not read either header, so nothing changes for them.
import { isWardenCookie } from '../../identity/browser-cookies.ts';

export function shieldPathFormAnswer(out: Record<string, string | string[]>, connection: string): void {
  const csp = out['content-security-policy'];
  const policies = csp === undefined ? [] : Array.isArray(csp) ? csp : [csp];
  out['content-security-policy'] = [...policies, 'sandbox'];
  const set = out['set-cookie'];
  if (set === undefined) return;
  const scoped = (Array.isArray(set) ? set : [set]).map((c) => scopeCookie(c, connection)).filter((c): c is string => c !== null);
  if (scoped.length) out['set-cookie'] = scoped;
  else delete out['set-cookie'];
}

/** One Set-Cookie value with its Path under /proxy/<connection>/ and no Domain; null for a cookie named like the gateway's. */
export function scopeCookie(value: string, connection: string): string | null {
  const [pair = '', ...attrs] = value.split(';');
  const eq = pair.indexOf('=');
  if (isWardenCookie(eq >= 0 ? pair.slice(0, eq) : pair)) return null;
  const base = `/proxy/${connection}`;
  let path = `${base}/`;
  const kept: string[] = [];
  for (const a of attrs) {
    const i = a.indexOf('=');
    const key = (i >= 0 ? a.slice(0, i) : a).trim().toLowerCase();
    const v = i >= 0 ? a.slice(i + 1).trim() : '';
    if (key === 'domain') continue;
    if (key === 'path') {
      // only an absolute path is a path; any other value means the default, which is ours
      if (v.startsWith('/')) path = base + v;
      continue;
    }
    kept.push(a.trim());
  }
  return [pair.trim(), `Path=${path}`, ...kept].join('; ');
}
