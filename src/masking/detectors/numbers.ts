// The digit-shaped entities: payment cards (Luhn + issuer prefix + grouping), US SSNs
// (separated, never-issued ranges rejected), IBANs (country length + mod 97) and phone
// numbers (E.164 with '+', North American and trunk-'0' national formats). Bare digit
// runs are left alone unless a checksum vouches for them: an order id is not a phone.
import type { Findings } from '../findings.ts';
import { nextMatch } from './next-match.ts';
import { cardPrefixValid, ibanValid, luhnValid, ssnValid } from './checksums.ts';

// Boundaries: not glued to a word, a decimal point or another digit group.
const CARD = /(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w]|[.-]\d)/g;
const SSN = /(?<![\w.-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w]|[.-]\d)/g;
const IBAN = /(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])/g;
const PHONE =
  /(?<![\w.+-])(?<!\d[ .-])(?:\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d+(?:[ .-]\d+){0,5}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|(?:1[ .-])?\d{3}([.-])\d{3}\1\d{4}|(?:1 )?\d{3} \d{3} \d{4}|0\d{1,4}(?:[ .-]\d{2,8}){1,4})(?![\w]|[.-]\d)/g;

function digitsOf(s: string): string {
  let d = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) d += s[i];
  }
  return d;
}

/** Card numbers are printed in groups of four (Amex 4-6-5); other groupings are something else. */
function cardGroupingValid(m: string): boolean {
  // The group lengths between ' ' / '-' separators, read without splitting the string.
  let groups = 0, len = 0, g0 = 0, g1 = 0;
  let fours = true; // every group so far has four digits
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c !== 32 && c !== 45) {
      len++;
      continue;
    }
    if (groups === 0) g0 = len;
    else if (groups === 1) g1 = len;
    if (len !== 4) fours = false;
    groups++;
    len = 0;
  }
  if (groups === 0) return true; // no separator
  // all groups of four but the last, which has one to four
  if (fours && len >= 1 && len <= 4) return true;
  return groups === 2 && g0 === 4 && g1 === 6 && len === 5;
}

/** "4444 4444 4444 4444": one digit repeated is a test pattern, not a card. */
function oneDigitRepeated(d: string): boolean {
  const c = d.charCodeAt(0);
  for (let i = 1; i < d.length; i++) if (d.charCodeAt(i) !== c) return false;
  return true;
}

/**
 * Words just before a long number that say it is a reference, not a card: one random
 * 16-digit id in ten passes Luhn. Card words nearby ("card", "visa"...) override them.
 */
const REFERENCE_BEFORE = /(?:order|ref|reference|invoice|tracking|account|acct|id|txn|transaction|ticket|#)[ \t]*(?:no\.?|number|#)?[ \t]*[:=]?[ \t]*$/i;
const CARD_WORDS = /card|visa|master|amex|discover|\bcc\b|\bpan\b/i;

function referenceContext(s: string, at: number): boolean {
  const before = s.slice(Math.max(0, at - 32), at);
  return REFERENCE_BEFORE.test(before) && !CARD_WORDS.test(before);
}

export function detectCard(s: string, out: Findings): void {
  CARD.lastIndex = 0;
  // 13 characters at least: a card has 13 digits or more
  for (let m = nextMatch(CARD, s, 13); m; m = nextMatch(CARD, s, 13)) {
    const d = digitsOf(m[0]);
    if (d.length < 13 || d.length > 19) continue;
    if (!cardPrefixValid(d) || !luhnValid(d) || !cardGroupingValid(m[0])) continue;
    if (oneDigitRepeated(d)) continue;
    if (m.index > 0 && referenceContext(s, m.index)) continue;
    out.push(m.index, m.index + m[0].length, 'card');
  }
}

/**
 * Is `s` one card number and nothing else, such that detectCard reports exactly one
 * finding covering all of it? A shortcut for card columns (no regex); false whenever in
 * doubt, and the caller then scans as usual. The CARD regex matches such a value whole:
 * 13 to 19 digits, each after at most one ' ' or '-', nothing before or after (its
 * greedy repeat takes every digit, and the end satisfies its look-ahead); the checks
 * are detectCard's own, on the same text. Two separators in a row leave an empty group,
 * which cardGroupingValid refuses. A unit test holds it to detectCard.
 */
export function isWholeCard(s: string): boolean {
  const n = s.length;
  if (n < 13 || !isDigit(s.charCodeAt(0)) || !isDigit(s.charCodeAt(n - 1))) return false;
  let digits = 1;
  for (let i = 1; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) digits++;
    else if (c !== 32 && c !== 45) return false;
  }
  if (digits > 19 || digits < 13) return false;
  const d = digitsOf(s);
  return cardPrefixValid(d) && luhnValid(d) && cardGroupingValid(s) && !oneDigitRepeated(d);
}

export function detectSsn(s: string, out: Findings): void {
  SSN.lastIndex = 0;
  // 11 characters at least: 123-45-6789
  for (let m = nextMatch(SSN, s, 11); m; m = nextMatch(SSN, s, 11)) {
    if (!ssnValid(Number(m[1]), Number(m[3]), Number(m[4]))) continue;
    out.push(m.index, m.index + m[0].length, 'ssn');
  }
}

export function detectIban(s: string, out: Findings): void {
  IBAN.lastIndex = 0;
  // 12 characters at least: country, check digits and two groups of four
  for (let m = nextMatch(IBAN, s, 12); m; m = nextMatch(IBAN, s, 12)) {
    let text = m[0];
    // A greedy match may have eaten a following word; shrink until the length fits the country.
    let compact = text.replace(/ /g, '');
    if (!ibanValid(compact)) {
      const parts = text.split(' ');
      let found = false;
      while (parts.length > 1 && !found) {
        parts.pop();
        text = parts.join(' ');
        compact = text.replace(/ /g, '');
        found = ibanValid(compact);
      }
      if (!found) continue;
    }
    out.push(m.index, m.index + text.length, 'iban');
  }
}

export function detectPhone(s: string, out: Findings): void {
  PHONE.lastIndex = 0;
  // 8 characters at least: eight digits or more
  for (let m = nextMatch(PHONE, s, 8); m; m = nextMatch(PHONE, s, 8)) {
    if (phoneDigitsValid(m[0], 0, m[0].length)) out.push(m.index, m.index + m[0].length, 'phone');
  }
}

/** Are the digits of the phone-shaped text s[start, end) (a PHONE match) those of a phone? */
function phoneDigitsValid(s: string, start: number, end: number): boolean {
  let n = 0, d0 = -1, d1 = -1, d2 = -1, d3 = -1, d4 = -1;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    if (n === 0) d0 = c;
    else if (n === 1) d1 = c;
    else if (n === 2) d2 = c;
    else if (n === 3) d3 = c;
    else if (n === 4) d4 = c;
    n++;
  }
  return phoneDigitsOk(s.charCodeAt(start), n, d0, d1, d2, d3, d4);
}

/**
 * phoneDigitsValid of bytes (isWholePhone). A twin rather than one function over both
 * types: each use sees one type, so neither pays a type check per character.
 */
function phoneBytesValid(b: Uint8Array, start: number, end: number): boolean {
  let n = 0, d0 = -1, d1 = -1, d2 = -1, d3 = -1, d4 = -1;
  for (let i = start; i < end; i++) {
    const c = b[i] - 48;
    if (c < 0 || c > 9) continue;
    if (n === 0) d0 = c;
    else if (n === 1) d1 = c;
    else if (n === 2) d2 = c;
    else if (n === 3) d3 = c;
    else if (n === 4) d4 = c;
    n++;
  }
  return phoneDigitsOk(b[start], n, d0, d1, d2, d3, d4);
}

/** The rule on a phone's `n` digits (the first five given), by its first character `c0`. */
function phoneDigitsOk(c0: number, n: number, d0: number, d1: number, d2: number, d3: number, d4: number): boolean {
  // E.164: country code never starts with 0, 8 to 15 digits in all.
  if (c0 === 43) return n >= 8 && n <= 15 && d0 !== 0;
  // "00" is the international call prefix (00 44 20 ...); otherwise a trunk-prefixed
  // national number (UK, FR, DE...): 0, an area code not starting with 0, 10 to 12 digits.
  if (c0 === 48) return d1 === 0 ? n >= 11 && n <= 17 && d2 !== 0 : n >= 10 && n <= 12;
  // North American, maybe after a leading 1: area code and exchange start with 2-9.
  if (n === 10) return d0 >= 2 && d3 >= 2;
  if (n === 11) return d1 >= 2 && d4 >= 2;
  return false;
}

/**
 * Is the ASCII text b[start, end) one phone number and nothing else, such that
 * detectPhone reports exactly one finding covering all of it? A shortcut for phone
 * columns (no text to decode, no regex); false whenever in doubt, and the caller then
 * scans as usual. It knows the shapes the PHONE regex matches whole, and which of its
 * alternatives would match first:
 *   ddd-ddd-dddd, ddd.ddd.dddd            (the North American alternative)
 *   (ddd) ddd-dddd, with [ .-] or nothing after ')'
 *   +cc [(area)] group [ .-]group...      (E.164: at most the groups the regex takes)
 *   0x... [ .-]group...                   (trunk '0': 1-4 groups of 2-8 digits)
 * A unit test holds it to detectPhone on the corpus, look-alikes and fuzzed strings.
 */
export function isWholePhone(b: Uint8Array, start: number, end: number): boolean {
  return wholePhoneShape(b, start, end) && phoneBytesValid(b, start, end);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
/** A separator the PHONE regex allows between digit groups. */
function isSep(c: number): boolean {
  return c === 32 || c === 46 || c === 45;
}
/** The end of the run of digits starting at `i`. */
function digitsEnd(b: Uint8Array, i: number, end: number): number {
  while (i < end && isDigit(b[i])) i++;
  return i;
}
/** From `i`: groups of `minDigits` to `maxDigits` digits, each after one separator; how many, -1 if something else follows. */
function groupsTo(b: Uint8Array, i: number, end: number, minDigits: number, maxDigits: number): number {
  let groups = 0;
  while (i < end) {
    if (!isSep(b[i])) return -1;
    const j = digitsEnd(b, i + 1, end);
    if (j - i - 1 < minDigits || j - i - 1 > maxDigits) return -1;
    groups++;
    i = j;
  }
  return groups;
}

function wholePhoneShape(b: Uint8Array, start: number, end: number): boolean {
  const c0 = b[start];
  if (c0 === 43) {
    // +cc: \+\d{1,3} takes up to three digits; a longer first group goes on in \d+.
    const g0 = digitsEnd(b, start + 1, end);
    const cc = g0 - start - 1;
    if (cc === 0) return false;
    if (cc > 3) {
      const more = groupsTo(b, g0, end, 1, Infinity);
      return more >= 0 && more <= 5;
    }
    if (g0 === end) return false;
    let i = g0;
    // (area): [ .-]?\(\d{1,4}\), then [ .-]? before the next group
    const open = isSep(b[i]) && i + 1 < end && b[i + 1] === 40 ? i + 1 : b[i] === 40 ? i : -1;
    if (open >= 0) {
      const close = digitsEnd(b, open + 1, end);
      if (close === end || close - open - 1 < 1 || close - open - 1 > 4 || b[close] !== 41) return false;
      i = close + 1;
      if (i < end && isSep(b[i])) i++;
    } else if (isSep(b[i])) i++;
    else return false;
    // one group (\d+), then (?:[ .-]\d+){0,5}
    const g1 = digitsEnd(b, i, end);
    if (g1 === i) return false;
    const more = groupsTo(b, g1, end, 1, Infinity);
    return more >= 0 && more <= 5;
  }
  if (c0 === 40) {
    // \(\d{3}\)[ .-]?\d{3}[ .-]\d{4}
    if (end - start < 13 || digitsEnd(b, start + 1, end) !== start + 4 || b[start + 4] !== 41) return false;
    let i = start + 5;
    if (isSep(b[i])) i++;
    return digitsEnd(b, i, end) === i + 3 && isSep(b[i + 3]) && digitsEnd(b, i + 4, end) === end && end - i - 4 === 4;
  }
  if (!isDigit(c0)) return false;
  const g0 = digitsEnd(b, start, end);
  const first = g0 - start;
  if (c0 === 48) {
    // 0\d{1,4}(?:[ .-]\d{2,8}){1,4}. After a first group of three, the North American
    // alternatives (ddd-ddd-dddd, ddd ddd dddd) come first: they need a second group of three.
    if (first < 2 || first > 5 || g0 === end) return false;
    if (first === 3 && digitsEnd(b, g0 + 1, end) - g0 - 1 === 3) return false;
    const groups = groupsTo(b, g0, end, 2, 8);
    return groups >= 1 && groups <= 4;
  }
  // ddd([.-])ddd\1dddd
  const sep = b[g0];
  if (end - start !== 12 || first !== 3 || (sep !== 45 && sep !== 46)) return false;
  return digitsEnd(b, g0 + 1, end) === g0 + 4 && b[g0 + 4] === sep && digitsEnd(b, g0 + 5, end) === end;
}
