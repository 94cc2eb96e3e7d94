// Email addresses, found from each '@' outwards rather than by a regex that would try
// every position: the local part to the left, a dotted domain with a letter TLD to the right.
import type { Findings } from '../findings.ts';

const UNICODE_LETTER = /\p{L}/u;
/** Local parts may hold letters beyond ASCII (RFC 6531: jürgen@...). */
function isLocal(c: number): boolean {
  if (c > 127) return UNICODE_LETTER.test(String.fromCharCode(c));
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}
function isDomain(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 45;
}
function isAlpha(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

/** "icon@2x.png" is a file, not a mailbox. */
const FILE_TLDS = ['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'css', 'js', 'ts', 'map', 'json', 'txt', 'html'];

/** Letters of s[a, b) (at most 4), lower-cased and packed into one number: a Set lookup without a substring. */
function packLetters(s: string, a: number, b: number): number {
  let v = 0;
  for (let i = a; i < b; i++) v = v * 128 + (s.charCodeAt(i) | 32);
  return v;
}
const FILE_TLD_CODES = new Set(FILE_TLDS.map((t) => packLetters(t, 0, t.length)));

/** A dotted domain in s[a, b): labels not empty, not starting with '-', a letter TLD of 2-24. */
function domainValid(s: string, a: number, b: number): boolean {
  if (s.charCodeAt(a) === 45 || s.charCodeAt(a) === 46) return false;
  let lastDot = -1;
  for (let i = a; i < b; i++) {
    if (s.charCodeAt(i) === 46) {
      if (i === lastDot + 1) return false; // ".."
      lastDot = i;
    }
  }
  if (lastDot < 0) return false;
  const tldLen = b - lastDot - 1;
  if (tldLen < 2 || tldLen > 24) return false;
  for (let i = lastDot + 1; i < b; i++) if (!isAlpha(s.charCodeAt(i))) return false;
  return tldLen > 4 || !FILE_TLD_CODES.has(packLetters(s, lastDot + 1, b));
}

export function detectEmail(s: string, out: Findings): void {
  let at = s.indexOf('@');
  while (at !== -1) {
    let a = at;
    while (a > 0 && at - a < 64 && isLocal(s.charCodeAt(a - 1))) a--;
    while (a < at && s.charCodeAt(a) === 46) a++; // a local part does not start with '.'
    let b = at + 1;
    while (b < s.length && b - at <= 253 && isDomain(s.charCodeAt(b))) b++;
    while (b > at + 1 && (s.charCodeAt(b - 1) === 46 || s.charCodeAt(b - 1) === 45)) b--; // sentence end
    const here = at;
    at = s.indexOf('@', at + 1);
    if (a === here || b === here + 1 || s.charCodeAt(here - 1) === 46) continue;
    if (!domainValid(s, here + 1, b)) continue;
    let dots = false;
    for (let i = a + 1; i < here; i++) if (s.charCodeAt(i) === 46 && s.charCodeAt(i - 1) === 46) dots = true;
    if (dots) continue;
    out.push(a, b, 'email');
  }
}
