// The validators that keep false positives down: Luhn for cards, ISO 13616 mod 97 and
// per-country lengths for IBANs, the SSA's never-issued ranges for SSNs, and Shannon
// entropy for "does this look like a secret" next to a weak keyword.

/** Luhn over the digits of `s` (other characters are skipped). */
export function luhnValid(s: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    let d = c;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** `digits`: 12 to 19 of them. Issuer prefixes of the networks in use (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir...). */
export function cardPrefixValid(digits: string): boolean {
  // The first one, two and four digits as numbers, without slicing strings.
  const d1 = digits.charCodeAt(0) - 48;
  const d2 = d1 * 10 + digits.charCodeAt(1) - 48;
  const d4 = d2 * 100 + (digits.charCodeAt(2) - 48) * 10 + digits.charCodeAt(3) - 48;
  const len = digits.length;
  switch (d1) {
    case 4: // Visa (13, 16, 19)
      return len === 13 || len === 16 || len === 19;
    case 5: // Mastercard 51-55, Maestro 50/56-59
      return len >= 12 && (d2 >= 51 && d2 <= 55 ? len === 16 : true);
    case 2: // Mastercard 2221-2720, Mir 2200-2204
      return (d4 >= 2221 && d4 <= 2720 && len === 16) || (d4 >= 2200 && d4 <= 2204);
    case 3: // Amex 34/37 (15), JCB 3528-3589, Diners 300-305/36/38/39
      if (d2 === 34 || d2 === 37) return len === 15;
      return (d4 >= 3528 && d4 <= 3589) || (d2 >= 36 && d2 <= 39) || (d4 >= 3000 && d4 <= 3059);
    case 6: // Discover, UnionPay, Maestro, RuPay
      return true;
    case 1: // UATP
      return len === 15;
    default:
      return false;
  }
}

/** IBAN lengths per country (SWIFT registry). */
export const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

/** `compact` is the IBAN without spaces, upper case. */
export function ibanValid(compact: string): boolean {
  const want = IBAN_LENGTHS[compact.slice(0, 2)];
  if (want === undefined || compact.length !== want) return false;
  // Move the first four characters to the end, letters become 10..35, then mod 97 by chunks.
  let rem = 0;
  const n = compact.length;
  for (let k = 0; k < n; k++) {
    const c = compact.charCodeAt((k + 4) % n);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

/** SSN parts that were never issued: area 000, 666, 900-999; group 00; serial 0000; and the famous samples. */
export function ssnValid(area: number, group: number, serial: number): boolean {
  if (area === 0 || area === 666 || area >= 900) return false;
  if (group === 0 || serial === 0) return false;
  if (area === 78 && group === 5 && serial === 1120) return false; // Woolworth wallet sample
  if (area === 219 && group === 9 && serial === 9999) return false; // SSA advertisement sample
  return true;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * Does a value next to a weak keyword (`token`, `secret`, `api_key`) look like a secret
 * rather than a word? Long enough, mixes character classes, and is not a plain word.
 */
export function looksSecret(v: string): boolean {
  if (v.length < 8) return false;
  let lower = 0, upper = 0, digit = 0, other = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 97 && c <= 122) lower = 1;
    else if (c >= 65 && c <= 90) upper = 1;
    else if (c >= 48 && c <= 57) digit = 1;
    else other = 1;
  }
  if (lower + upper + digit + other < 2) return v.length >= 24 && entropy(v) >= 3.5;
  return entropy(v) >= 2.8;
}
