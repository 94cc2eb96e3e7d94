// The path a request names, in the one form that is both judged and sent: rules must see what
// the target will serve, so spellings a server reads as the same path are made one before
// judging (RFC 3986 6.2.2: percent-encoded unreserved characters decoded, dot segments
// removed; repeated slashes collapsed, as many servers do). An encoded slash or backslash,
// which servers disagree about, is refused rather than guessed.

export class AmbiguousPath extends Error {}

const UNRESERVED = /%(4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]|3[0-9]|2D|2E|5F|7E)/gi;

/** `/v1//messages/./b%61tches` -> `/v1/messages/batches`; throws AmbiguousPath for `%2F`, `%5C`, `\`. */
export function normalizePath(raw: string): string {
  if (/%2f|%5c|\\/i.test(raw)) throw new AmbiguousPath('an encoded slash or a backslash in the path is refused (servers read it differently)');
  const decoded = raw.replace(UNRESERVED, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
  const collapsed = `/${decoded}`.replace(/\/{2,}/g, '/');
  return new URL(collapsed, 'http://x').pathname;
}

/** `/proxy/<name>/<rest>` -> [name, '/<rest>'] (rest '/' when absent); null when not that shape. */
export function splitProxyPath(pathname: string): [string, string] | null {
  const m = /^\/proxy\/([^/]+)(\/.*)?$/.exec(pathname);
  return m ? [decodeURIComponent(m[1]!), m[2] ?? '/'] : null;
}

/**
 * Where a request to /proxy/<name>/<rest>?<query> goes on a connection whose base URL is `base`:
 * the target URL, and the path as judged (`/<rest>?<query>`, normalized). Throws AmbiguousPath.
 */
export function proxyTarget(base: string, requestUrl: string): { target: URL; shownPath: string } {
  const [rawPath, rawQuery = ''] = requestUrl.split(/\?(.*)/s, 2);
  const split = splitProxyPath(rawPath!);
  if (!split) throw new AmbiguousPath('expected /proxy/<connection>/<path>');
  const rest = normalizePath(split[1]);
  const target = new URL(base);
  target.pathname = `${target.pathname.replace(/\/$/, '')}${rest}`;
  target.search = new URL(`http://gateway/${rawQuery ? `?${rawQuery}` : ''}`).search;
  return { target, shownPath: `${rest}${target.search}` };
}
