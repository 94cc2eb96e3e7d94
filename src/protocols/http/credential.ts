// The credential an http connection holds for its target, put on each request as it leaves:
// a header (with a scheme when given, `Bearer <value>`) or a query parameter. The caller's
// own Warden token never leaves: it is taken off before (see caller-token.ts).
import type { IncomingHttpHeaders } from 'node:http';

export type InjectedCredential = { header: string; value: string; scheme?: string } | { query: string; value: string };

export function injectCredential(c: InjectedCredential | undefined, headers: IncomingHttpHeaders, url: URL): void {
  if (!c) return;
  if ('header' in c) headers[c.header.toLowerCase()] = c.scheme ? `${c.scheme} ${c.value}` : c.value;
  else url.searchParams.set(c.query, c.value);
}
