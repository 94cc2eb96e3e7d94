// Where a caller's Warden token rides on a request to /proxy/<connection>/: where the SDK of
// the API puts its key (OpenAI: `Authorization: Bearer`, Anthropic: `x-api-key`), or
// `Proxy-Authorization` for a client whose own Authorization header is for the target.
// Each of these headers is removed before the request leaves, whichever carried the token,
// and so are the gateway's own browser cookies (a console session is a gateway token too).
import type { IncomingHttpHeaders } from 'node:http';
import { CALLER_HEADERS } from '../../policy/http-rule-schema.ts';
import { withoutWardenCookies } from '../../identity/browser-cookies.ts';

export function callerToken(headers: IncomingHttpHeaders): string | null {
  for (const h of CALLER_HEADERS) {
    const v = headers[h];
    if (typeof v !== 'string' || !v) continue;
    if (h === 'x-api-key') return v.trim();
    const m = /^Bearer\s+(\S+)\s*$/i.exec(v);
    if (m) return m[1]!;
  }
  return null;
}

export function dropCallerHeaders(headers: IncomingHttpHeaders): void {
  for (const h of CALLER_HEADERS) delete headers[h];
  if (headers.cookie === undefined) return;
  const rest = withoutWardenCookies(headers.cookie);
  if (rest === null) delete headers.cookie;
  else headers.cookie = rest;
}
