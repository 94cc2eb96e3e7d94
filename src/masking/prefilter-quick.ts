// The prefilter's quick pass: one branch-free loop over a value that answers for most
// values (prose, names, statuses, ids, amounts, most emails) and says "undecided" for the
// rest, which then go to the full pass (prefilter.ts). The full pass follows digit
// groups, phone runs and separators character by character; that costs a mispredicted
// branch at every change of character class, several per word of prose. This loop only
// looks a class up, ORs and adds per character, and what it keeps decides every trigger
// exactly whenever the value has no ':' or '=', no run of 16 token characters and fewer
// than 8 digits:
//   phone, card, SSN, IBAN   need 8 digits or more (phone 8, IBAN 8, SSN 9, card 13)
//   keyword, token, IPv6     need ':' or '=', or a run of 16 token characters
//   URL password             needs ':'
//   email                    '@'
//   IPv4                     4 digits and 3 dots
//   DOB                      4 digits and a 'b' or 'B' (every DOB keyword holds one)
//   PEM                      10 dashes
// The loop stops as soon as one of those three shows: the value goes to the full pass,
// and the rest of this one would be wasted. The same bits as the full pass:
// test/unit/masking-prefilter-quick.test.ts compares the two on every value it decides.
import { T_DOB, T_EMAIL, T_IPV4, T_NON_ASCII, T_PEM } from './trigger-bits.ts';

/** The quick pass cannot tell: run the full one. */
export const UNDECIDED = -1;

// Character classes, one table entry per character code. The low bits are a weight that
// reaches 16 at the 8th digit or the first ':' or '=' (a digit weighs 2, those 16); the
// top bit marks the characters of a token-like run, [A-Za-z0-9_-], as the full pass counts them.
const W_DIGIT = 2, W_KV = 16, WEIGHT = 31, UNDECIDED_AT = 16;
const Q_DOT = 1 << 5, Q_DASH = 1 << 6, Q_AT = 1 << 7, Q_B = 1 << 8, Q_WIDE = 1 << 9, Q_TOKEN_BIT = 15;
const CLASS = new Uint16Array(256);
for (let c = 0; c < 256; c++) {
  const digit = c >= 48 && c <= 57;
  const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  let k = 0;
  if (digit) k |= W_DIGIT;
  if (c === 58 || c === 61) k |= W_KV;
  if (digit || letter || c === 95 || c === 45) k |= 1 << Q_TOKEN_BIT;
  if (c === 46) k |= Q_DOT;
  if (c === 45) k |= Q_DASH;
  if (c === 64) k |= Q_AT;
  if (c === 98 || c === 66) k |= Q_B;
  if (c > 127) k |= Q_WIDE;
  CLASS[c] = k;
}

// Module constants: under a CJS transform (tsx, tests, benches) an imported binding is a getter call.
const EMAIL = T_EMAIL, IPV4 = T_IPV4, DOB = T_DOB, PEM = T_PEM, NON_ASCII = T_NON_ASCII;

/** Trigger bits of the UTF-8 bytes b[start, end), or UNDECIDED. */
export function quickTriggersOfBytes(b: Uint8Array, start: number, end: number): number {
  let seen = 0, weight = 0, run = 0;
  for (let i = start; i < end; i++) {
    const k = CLASS[b[i]];
    seen |= k;
    weight += k & WEIGHT;
    run = (run + 1) & -(k >> Q_TOKEN_BIT); // a token character adds to the run, any other ends it
    // One test for both: weight and run are below 16 until one of them is not.
    if ((weight | run) >= UNDECIDED_AT) return UNDECIDED;
  }
  let t = 0;
  if ((seen & Q_AT) !== 0) t |= EMAIL;
  if (weight >= 4 * W_DIGIT) {
    // Dots and dashes are counted only when they may decide something (rarely).
    if ((seen & Q_DOT) !== 0 && countOfByte(b, start, end, 46) >= 3) t |= IPV4;
    if ((seen & Q_B) !== 0) t |= DOB;
  }
  if ((seen & Q_DASH) !== 0 && countOfByte(b, start, end, 45) >= 10) t |= PEM;
  if ((seen & Q_WIDE) !== 0) t |= NON_ASCII;
  return t;
}

/** Trigger bits of a string, or UNDECIDED. */
export function quickTriggersOf(s: string): number {
  let seen = 0, weight = 0, run = 0;
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    const k = c < 256 ? CLASS[c] : Q_WIDE;
    seen |= k;
    weight += k & WEIGHT;
    run = (run + 1) & -(k >> Q_TOKEN_BIT);
    if ((weight | run) >= UNDECIDED_AT) return UNDECIDED;
  }
  let t = 0;
  if ((seen & Q_AT) !== 0) t |= EMAIL;
  if (weight >= 4 * W_DIGIT) {
    if ((seen & Q_DOT) !== 0 && countOfChar(s, 46) >= 3) t |= IPV4;
    if ((seen & Q_B) !== 0) t |= DOB;
  }
  if ((seen & Q_DASH) !== 0 && countOfChar(s, 45) >= 10) t |= PEM;
  if ((seen & Q_WIDE) !== 0) t |= NON_ASCII;
  return t;
}

/** How many times `v` occurs in b[start, end): for the rare counts the loop does not keep. */
function countOfByte(b: Uint8Array, start: number, end: number, v: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (b[i] === v) n++;
  return n;
}

function countOfChar(s: string, v: number): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === v) n++;
  return n;
}
