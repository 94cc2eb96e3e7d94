// Email addresses, found from each '@' outwards rather than by a regex that would try
// every position: the local part to the left, a dotted domain with a letter TLD to the right.
// Each side is walked once, its checks ('..', a TLD of letters) made on the way: an email
// column has one on every row.
import type { Findings } from '../findings.ts';

const UNICODE_LETTER = /\p{L}/u;

// ASCII character classes, one table lookup instead of a chain of comparisons per character.
const LOCAL = 1, DOMAIN = 2, ALPHA = 4;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  const alnum = alpha || (c >= 48 && c <= 57);
  if (alnum || c === 46 || c === 95 || c === 37 || c === 43 || c === 45) CLASS[c] |= LOCAL; // . _ % + -
  if (alnum || c === 46 || c === 45) CLASS[c] |= DOMAIN; // . -
  if (alpha) CLASS[c] |= ALPHA;
}
/** CLASS for any byte (0 beyond ASCII), and DOT for '.': isWholeEmail's single lookup. */
const DOT = 8;
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS.set(CLASS);
BYTE_CLASS[46] |= DOT;

/** Local parts may hold letters beyond ASCII (RFC 6531: jürgen@...). */
function isLocal(c: number): boolean {
  if (c > 127) return UNICODE_LETTER.test(String.fromCharCode(c));
  return (CLASS[c] & LOCAL) !== 0;
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

/**
 * The TLD check of a domain s[a, b) that has no ".." and does not start with '.' or '-':
 * its last label is 2-24 letters after a dot, and not a file extension. The letters are
 * read backwards from the end: a label holding anything else stops them short of the dot.
 */
function tldValid(s: string, a: number, b: number): boolean {
  let i = b;
  while (i > a && b - i <= 24 && (CLASS[s.charCodeAt(i - 1)] & ALPHA) !== 0) i--; // domain characters are ASCII
  const tldLen = b - i;
  if (i === a || s.charCodeAt(i - 1) !== 46 || tldLen < 2 || tldLen > 24) return false;
  return tldLen > 4 || !FILE_TLD_CODES.has(packLetters(s, i, b));
}

export function detectEmail(s: string, out: Findings): void {
  const n = s.length;
  let at = s.indexOf('@');
  while (at !== -1) {
    // Local part, leftwards; `pair`: the right dot of the rightmost ".." seen (-1: none).
    let a = at;
    let pair = -1;
    while (a > 0 && at - a < 64 && isLocal(s.charCodeAt(a - 1))) {
      a--;
      if (pair < 0 && s.charCodeAt(a) === 46 && a + 1 < at && s.charCodeAt(a + 1) === 46) pair = a + 1;
    }
    while (a < at && s.charCodeAt(a) === 46) a++; // a local part does not start with '.'
    // Domain, rightwards; `dd`: the right dot of the first ".." (n: none).
    let b = at + 1;
    let dd = n;
    while (b < n && b - at <= 253) {
      const c = s.charCodeAt(b);
      if (c > 127 || (CLASS[c] & DOMAIN) === 0) break;
      if (c === 46 && dd === n && s.charCodeAt(b - 1) === 46) dd = b;
      b++;
    }
    const next = b; // no '@' lies inside the domain
    while (b > at + 1 && (s.charCodeAt(b - 1) === 46 || s.charCodeAt(b - 1) === 45)) b--; // sentence end
    const here = at;
    at = s.indexOf('@', next);
    if (a === here || b === here + 1 || s.charCodeAt(here - 1) === 46) continue;
    // The domain: no label starts it empty or with '-', no ".." (trimmed dots excepted), a letter TLD.
    const d0 = s.charCodeAt(here + 1);
    if (d0 === 45 || d0 === 46 || dd < b || !tldValid(s, here + 1, b)) continue;
    // The leading dots just skipped are not part of the local part, nor a ".." among them.
    if (pair - 1 >= a) continue;
    out.push(a, b, 'email');
  }
}

/**
 * Is the ASCII text b[start, end) one email address and nothing else, such that
 * detectEmail reports exactly one finding covering all of it? A shortcut for email
 * columns (no text to decode, no scan); false whenever in doubt, and the caller then
 * scans as usual. Mirrors detectEmail's rules: one '@'; a local part of 1-64 local
 * characters, not starting or ending with '.', without ".."; a domain of at most 253
 * domain characters that neither starts nor ends with '.' or '-', without "..", ending
 * in a TLD of 2-24 letters that is not a file extension. A unit test holds the two to it.
 */
export function isWholeEmail(b: Uint8Array, start: number, end: number): boolean {
  // One table lookup per byte and no branch that depends on it until the '@' or a byte
  // that does not belong; ".." is caught by AND-ing each byte's class with the one before.
  let at = -1;
  let allowed = LOCAL;
  let prev = 0, dotDot = 0;
  for (let i = start; i < end; i++) {
    const k = BYTE_CLASS[b[i]];
    if ((k & allowed) === 0) {
      if (b[i] !== 64 || at !== -1) return false; // beyond ASCII, not an email character, a second '@'
      at = i;
      allowed = DOMAIN; // (a '.' right before the '@' is refused below, so no ".." spans it)
      continue;
    }
    dotDot |= prev & k;
    prev = k;
  }
  if ((dotDot & DOT) !== 0) return false;
  if (at - start < 1 || at - start > 64 || end - at - 1 < 4 || end - at - 1 > 253) return false;
  if (b[start] === 46 || b[at - 1] === 46) return false;
  const d0 = b[at + 1], last = b[end - 1];
  if (d0 === 46 || d0 === 45 || last === 46 || last === 45) return false;
  // The TLD: letters back to a dot, 2 to 24 of them, not a file extension.
  let i = end;
  while (i > at + 1 && end - i <= 24 && (CLASS[b[i - 1]] & ALPHA) !== 0) i--;
  const tldLen = end - i;
  if (b[i - 1] !== 46 || i - 1 === at + 1 || tldLen < 2 || tldLen > 24) return false;
  if (tldLen > 4) return true;
  let v = 0;
  for (let j = i; j < end; j++) v = v * 128 + (b[j] | 32);
  return !FILE_TLD_CODES.has(v);
}
