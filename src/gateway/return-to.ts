// Where the browser login may send someone afterwards: a path on this gateway, judged the
// way a browser will read it. A prefix check on the raw text is not enough: browsers drop
// tabs and newlines from URLs (`/%09/evil.com` is `//evil.com`), read `\` as `/`, and take
// `https:evil.com` as another site; an open redirect after login hands phishers a trusted link.

/** An origin nothing else has: relative input resolves against it, anything absolute elsewhere does not. */
const HERE = new URL('https://warden.invalid/');

/** The same-origin path, query and fragment `value` leads to, or null when it leads elsewhere. */
export function sameOriginPath(value: string): string | null {
  // Anything with a scheme of its own is elsewhere, even `https:evil.com`, which resolves
  // as a path against an https base but as another host from a page served over http.
  if (value.length > 2048 || URL.canParse(value)) return null;
  let url: URL;
  try {
    url = new URL(value, HERE);
  } catch {
    return null;
  }
  if (url.origin !== HERE.origin) return null;
  // `/.//evil.com` resolves to the path `//evil.com`, which a browser reads as another host.
  if (url.pathname.startsWith('//')) return null;
  return url.pathname + url.search + url.hash;
}
