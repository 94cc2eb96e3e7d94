// The digit-shaped entities: payment cards (Luhn + issuer prefix + grouping), US SSNs
// (separated, never-issued ranges rejected), IBANs (country length + mod 97) and phone
// numbers (E.164 with '+', North American and trunk-'0' national formats). Bare digit
// runs are left alone unless a checksum vouches for them: an order id is not a phone.
import type { Findings } from '../findings.ts';
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
  if (!/[ -]/.test(m)) return true;
  const groups = m.split(/[ -]/).map((g) => g.length);
  if (groups.every((g, i) => g === 4 || (i === groups.length - 1 && g >= 1 && g <= 4))) return true;
  return groups.length === 3 && groups[0] === 4 && groups[1] === 6 && groups[2] === 5;
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
  for (let m = CARD.exec(s); m; m = CARD.exec(s)) {
    const d = digitsOf(m[0]);
    if (d.length < 13 || d.length > 19) continue;
    if (!cardPrefixValid(d) || !luhnValid(d) || !cardGroupingValid(m[0])) continue;
    if (/^(\d)\1+$/.test(d)) continue;
    if (m.index > 0 && referenceContext(s, m.index)) continue;
    out.push(m.index, m.index + m[0].length, 'card');
  }
}

export function detectSsn(s: string, out: Findings): void {
  SSN.lastIndex = 0;
  for (let m = SSN.exec(s); m; m = SSN.exec(s)) {
    if (!ssnValid(Number(m[1]), Number(m[3]), Number(m[4]))) continue;
    out.push(m.index, m.index + m[0].length, 'ssn');
  }
}

export function detectIban(s: string, out: Findings): void {
  IBAN.lastIndex = 0;
  for (let m = IBAN.exec(s); m; m = IBAN.exec(s)) {
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
  for (let m = PHONE.exec(s); m; m = PHONE.exec(s)) {
    const t = m[0];
    const d = digitsOf(t);
    const c0 = t.charCodeAt(0);
    if (c0 === 43) {
      // E.164: country code never starts with 0, 8 to 15 digits in all.
      if (d.length < 8 || d.length > 15 || d[0] === '0') continue;
    } else if (c0 === 48) {
      // "00" is the international call prefix (00 44 20 ...); otherwise a trunk-prefixed
      // national number (UK, FR, DE...): 0, an area code not starting with 0, 10 to 12 digits.
      if (d[1] === '0' ? d.length < 11 || d.length > 17 || d[2] === '0' : d.length < 10 || d.length > 12) continue;
    } else {
      // North American: area code and exchange start with 2-9.
      const n = d.length === 11 ? d.slice(1) : d;
      if (n.length !== 10 || n[0] < '2' || n[3] < '2') continue;
    }
    out.push(m.index, m.index + t.length, 'phone');
  }
}
