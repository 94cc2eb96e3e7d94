// The cheap first look at every value: a pass over the characters (or bytes) that
// counts what the detectors need to have any chance: an '@' for emails, enough digits
// for cards and phones, a long token-like run for API keys, '=' or ':' for `key=value`
// secrets. Only the detectors whose trigger fired run their regexes, so clean data
// (names, numbers, prose) costs one tight loop and no allocation. Two passes: a quick
// one (prefilter-quick.ts) that decides most values from a few counts, and the full one
// here for the values it cannot decide (8 digits or more, ':' or '=', a token-long run).
//
// Each trigger is a necessary condition of its detector finding anything, never a
// guess: a value that fails it cannot hold that entity, so skipping the detector loses
// nothing. The sharper the condition, the fewer regexes run on values such as
// timestamps ("2024-06-25T20:05:02.559Z" has digits, capitals and colons, but is no
// phone, IBAN, IPv6 address or `key: value` secret). One deliberate exception, older
// than these conditions: a space-separated `Bearer <value>` reaches the keyword detector
// only when the value is token-long. test/unit/masking-prefilter.test.ts checks all this.

export { T_EMAIL, T_URL_PASSWORD, T_KEYWORD, T_PHONE, T_CARD, T_SSN, T_IBAN, T_IPV4, T_IPV6, T_TOKEN, T_PEM, T_DOB, T_NON_ASCII } from './trigger-bits.ts';
import { UNDECIDED, quickTriggersOf, quickTriggersOfBytes } from './prefilter-quick.ts';
import { T_EMAIL, T_URL_PASSWORD, T_KEYWORD, T_PHONE, T_CARD, T_SSN, T_IBAN, T_IPV4, T_IPV6, T_TOKEN, T_PEM, T_DOB, T_NON_ASCII } from './trigger-bits.ts';

/** Trigger bits for a string: the quick pass, and the full one when the quick one cannot tell. */
export function triggersOf(s: string): number {
  const t = quickTriggersOf(s);
  return t !== UNDECIDED ? t : fullTriggersOf(s);
}

/** Trigger bits for the UTF-8 bytes b[start, end), as triggersOf. */
export function triggersOfBytes(b: Uint8Array, start: number, end: number): number {
  const t = quickTriggersOfBytes(b, start, end);
  return t !== UNDECIDED ? t : fullTriggersOfBytes(b, start, end);
}

/** Shortest run of [A-Za-z0-9_-] that may hold an API token (AWS ids are 20, most are longer). */
const TOKEN_RUN = 16;

// What classify needs to know was seen, one bit each.
const F_AT = 1, F_KV = 2, F_DOUBLE_COLON = 4, F_B = 8, F_IBAN = 16, F_WIDE = 32, F_SSN = 64;

function classify(seen: number, digits: number, numRun: number, phoneRun: number, maxRun: number, letters: number, colons: number, dots: number, dashes: number, upper: number): number {
  let t = 0;
  if (seen & F_AT) t |= colons ? T_EMAIL | T_URL_PASSWORD : T_EMAIL;
  // every keyword (pwd, token, secret...) has at least three letters
  if ((seen & F_KV || maxRun >= TOKEN_RUN) && letters >= 3) t |= T_KEYWORD;
  // a phone has at least 8 digits (E.164 8-15, national 10+), all in one run of phone
  // characters from a digit group the phone regex may start at
  if (phoneRun >= 8) t |= T_PHONE;
  if (numRun >= 13) t |= T_CARD;
  // digit groups of 3, 2 and 4 joined by single spaces or '-'
  if (seen & F_SSN) t |= T_SSN;
  // two capitals right before two digits ("DE89")
  if (seen & F_IBAN && digits >= 8 && upper >= 2) t |= T_IBAN;
  if (digits >= 4 && dots >= 3) t |= T_IPV4;
  // an IPv6 address has "::" or at least 6 colons (8 groups, or 6 and an IPv4 tail)
  if (seen & F_DOUBLE_COLON || colons >= 6) t |= T_IPV6;
  // every token prefix (ghp_, xoxb-, sk_live_, AKIA, eyJ...) has at least two letters
  if (maxRun >= TOKEN_RUN && letters >= 2) t |= T_TOKEN;
  if (dashes >= 10) t |= T_PEM;
  if (digits >= 4 && seen & F_B) t |= T_DOB;
  if (seen & F_WIDE) t |= T_NON_ASCII;
  return t;
}

function hasByte(b: Uint8Array, start: number, end: number, v: number): boolean {
  for (let i = start; i < end; i++) if (b[i] === v) return true;
  return false;
}

/**
 * May a phone number begin with a digit that follows `p1` (and `p2` before it)? The
 * phone regex's look-behind: not glued to a word, '.', '+' or '-', and not a digit group
 * after a digit and a space ("12 345..." is one number). 0 stands for "no character".
 */
function phoneMayStart(p1: number, p2: number): boolean {
  if ((p1 >= 97 && p1 <= 122) || (p1 >= 65 && p1 <= 90) || (p1 >= 48 && p1 <= 57) || p1 === 95) return false;
  if (p1 === 46 || p1 === 45 || p1 === 43) return false;
  return !(p1 === 32 && p2 >= 48 && p2 <= 57);
}

/** Trigger bits for a string, the full pass: every value the quick one leaves undecided. */
export function fullTriggersOf(s: string): number {
  let digits = 0, run = 0, maxRun = 0, colons = 0, dots = 0, dashes = 0, upper = 0, lower = 0;
  /** F_* bits: characters (or pairs) seen anywhere */
  let seen = 0;
  // Digits of the current "number": digit groups joined by single separators, as in
  // "4111 1111 1111 1111" or "+1 (415) 555-2671"; a timestamp's ':' ends one.
  let num = 0, maxNum = 0, sep = 0;
  // Phone: digits of the current run of phone characters (digits, space . - ( ) +)
  // counted from the first digit group a phone may start with (-1: none yet), and the
  // best run so far. gLen: length of the digit group just before this character (0: none).
  let gLen = 0, pd = -1, maxP = 0;
  // SSN: lengths of the last two digit groups when one space or '-' followed each
  // ("123-45-6789" is 3, 2, then a group of 4).
  let g1 = 0, g2 = 0;
  // IBAN: it starts with two capitals and two digits ("DE89"); upRun counts capitals in a row.
  let upRun = 0;
  /** a digit or capital left state behind that a lower-case letter has to close */
  let open = 0;
  for (let i = 0, n = s.length; i < n; i++) {
    let c = s.charCodeAt(i);
    // Lower-case letters first, a whole run at a time: they are most of what prose is made of.
    if (c >= 97 && c <= 122) {
      if (open !== 0) {
        if (num > maxNum) maxNum = num;
        if (pd > maxP) maxP = pd;
        num = gLen = g1 = g2 = upRun = open = 0;
        pd = -1;
      }
      let j = i;
      while (++j !== n && s.charCodeAt(j) - 97 >>> 0 <= 25); // 'b' is looked for at the end, if it matters
      run += j - i;
      lower += j - i;
      i = j - 1; // the loop's i++ moves to the character after the run
      continue;
    }
    if (c >= 48 && c <= 57) {
      // A whole group of digits at a time; the next character sees gLen !== 0.
      const first = c;
      let j = i;
      for (;;) {
        if (++j === n) break;
        c = s.charCodeAt(j);
        if (c < 48 || c > 57) break;
      }
      const g = j - i;
      digits += g;
      run += g;
      num += g;
      sep = 0;
      if (upRun >= 2 && g >= 2) seen |= F_IBAN;
      upRun = 0;
      if (pd < 0) {
        const p1 = i > 0 ? s.charCodeAt(i - 1) : 0;
        // "+44 ...", "(415) ..."; else a trunk "0", the North American "1" or an area code
        if (p1 === 43 || p1 === 40) pd = 0;
        else if ((first <= 49 || g === 3) && phoneMayStart(p1, i > 1 ? s.charCodeAt(i - 2) : 0)) pd = 0;
      }
      if (pd >= 0) pd += g;
      gLen = g;
      open = 1;
      i = j - 1; // the loop's i++ moves to the character after the group
      continue;
    }
    // Digits or capitals since the last lower-case letter leave number, phone, SSN and
    // IBAN state to update; without them (most of prose) all of it is at rest.
    let capitals = 0;
    if (open !== 0) {
      if (gLen !== 0) {
        if (gLen === 4 && g1 === 2 && g2 === 3) seen |= F_SSN;
        if (c === 32 || c === 45) {
          g2 = g1;
          g1 = gLen;
        } else g1 = g2 = 0;
        gLen = 0;
      } else g1 = g2 = 0;
      capitals = upRun;
      upRun = 0;
      const joins = c === 32 || c === 45 || c === 46 || c === 40 || c === 41 || c === 43;
      if (num !== 0) {
        // space - . ( ) + may join digit groups, one at a time (") " in "(415) 555" is two)
        if (joins && (sep === 0 || (sep === 1 && c === 32))) sep++;
        else {
          if (num > maxNum) maxNum = num;
          num = 0;
          sep = 0;
        }
      }
      // Any other character ends a run of phone characters.
      if (pd >= 0 && !joins) {
        if (pd > maxP) maxP = pd;
        pd = -1;
      }
    }
    if (c === 32) {
      if (run > maxRun) maxRun = run;
      run = 0;
      continue;
    }
    if (c >= 65 && c <= 90) {
      run++;
      upper++;
      upRun = capitals + 1;
      open = 1;
      if (c === 66) seen |= F_B;
    } else if (c === 95) run++;
    else if (c === 45) {
      run++;
      dashes++;
    } else {
      if (run > maxRun) maxRun = run;
      run = 0;
      if (c === 64) seen |= F_AT;
      else if (c === 58) {
        colons++;
        seen |= i > 0 && s.charCodeAt(i - 1) === 58 ? F_KV | F_DOUBLE_COLON : F_KV;
      } else if (c === 61) seen |= F_KV;
      else if (c === 46) dots++;
      else if (c > 127) seen |= F_WIDE;
    }
  }
  if (run > maxRun) maxRun = run;
  if (num > maxNum) maxNum = num;
  if (pd > maxP) maxP = pd;
  if (gLen === 4 && g1 === 2 && g2 === 3) seen |= F_SSN;
  // DOB keywords (dob, birth, born...) all hold a 'b'; only values with digits and
  // lower-case letters need to look (a timestamp has neither 'b' nor any lower case).
  if (digits >= 4 && (seen & F_B) === 0 && lower !== 0 && s.indexOf('b') !== -1) seen |= F_B;
  return classify(seen, digits, maxNum, maxP, maxRun, lower + upper, colons, dots, dashes, upper);
}

/**
 * Trigger bits for UTF-8 bytes, the full pass; non-ASCII bytes separate runs as non-ASCII
 * characters do. The twin of fullTriggersOf on purpose: this is the hottest loop of masking (every byte of
 * every DataRow), and one loop over either representation avoids decoding rows to
 * strings or a call per character. Change the two together (a unit test compares them).
 */
export function fullTriggersOfBytes(b: Uint8Array, start: number, end: number): number {
  let digits = 0, run = 0, maxRun = 0, colons = 0, dots = 0, dashes = 0, upper = 0, lower = 0;
  /** F_* bits: characters (or pairs) seen anywhere */
  let seen = 0;
  // Digits of the current "number": digit groups joined by single separators, as in
  // "4111 1111 1111 1111" or "+1 (415) 555-2671"; a timestamp's ':' ends one.
  let num = 0, maxNum = 0, sep = 0;
  // Phone: digits of the current run of phone characters (digits, space . - ( ) +)
  // counted from the first digit group a phone may start with (-1: none yet), and the
  // best run so far. gLen: length of the digit group just before this character (0: none).
  let gLen = 0, pd = -1, maxP = 0;
  // SSN: lengths of the last two digit groups when one space or '-' followed each
  // ("123-45-6789" is 3, 2, then a group of 4).
  let g1 = 0, g2 = 0;
  // IBAN: it starts with two capitals and two digits ("DE89"); upRun counts capitals in a row.
  let upRun = 0;
  /** a digit or capital left state behind that a lower-case letter has to close */
  let open = 0;
  for (let i = start; i < end; i++) {
    let c = b[i];
    // Lower-case letters first, a whole run at a time: they are most of what prose is made of.
    if (c >= 97 && c <= 122) {
      if (open !== 0) {
        if (num > maxNum) maxNum = num;
        if (pd > maxP) maxP = pd;
        num = gLen = g1 = g2 = upRun = open = 0;
        pd = -1;
      }
      let j = i;
      while (++j !== end && b[j]! - 97 >>> 0 <= 25); // 'b' is looked for at the end, if it matters
      run += j - i;
      lower += j - i;
      i = j - 1; // the loop's i++ moves to the character after the run
      continue;
    }
    if (c >= 48 && c <= 57) {
      // A whole group of digits at a time; the next character sees gLen !== 0.
      const first = c;
      let j = i;
      for (;;) {
        if (++j === end) break;
        c = b[j];
        if (c < 48 || c > 57) break;
      }
      const g = j - i;
      digits += g;
      run += g;
      num += g;
      sep = 0;
      if (upRun >= 2 && g >= 2) seen |= F_IBAN;
      upRun = 0;
      if (pd < 0) {
        const p1 = i > start ? b[i - 1] : 0;
        // "+44 ...", "(415) ..."; else a trunk "0", the North American "1" or an area code
        if (p1 === 43 || p1 === 40) pd = 0;
        else if ((first <= 49 || g === 3) && phoneMayStart(p1, i > start + 1 ? b[i - 2] : 0)) pd = 0;
      }
      if (pd >= 0) pd += g;
      gLen = g;
      open = 1;
      i = j - 1; // the loop's i++ moves to the character after the group
      continue;
    }
    // Digits or capitals since the last lower-case letter leave number, phone, SSN and
    // IBAN state to update; without them (most of prose) all of it is at rest.
    let capitals = 0;
    if (open !== 0) {
      if (gLen !== 0) {
        if (gLen === 4 && g1 === 2 && g2 === 3) seen |= F_SSN;
        if (c === 32 || c === 45) {
          g2 = g1;
          g1 = gLen;
        } else g1 = g2 = 0;
        gLen = 0;
      } else g1 = g2 = 0;
      capitals = upRun;
      upRun = 0;
      const joins = c === 32 || c === 45 || c === 46 || c === 40 || c === 41 || c === 43;
      if (num !== 0) {
        // space - . ( ) + may join digit groups, one at a time (") " in "(415) 555" is two)
        if (joins && (sep === 0 || (sep === 1 && c === 32))) sep++;
        else {
          if (num > maxNum) maxNum = num;
          num = 0;
          sep = 0;
        }
      }
      // Any other character ends a run of phone characters.
      if (pd >= 0 && !joins) {
        if (pd > maxP) maxP = pd;
        pd = -1;
      }
    }
    if (c === 32) {
      if (run > maxRun) maxRun = run;
      run = 0;
      continue;
    }
    if (c >= 65 && c <= 90) {
      run++;
      upper++;
      upRun = capitals + 1;
      open = 1;
      if (c === 66) seen |= F_B;
    } else if (c === 95) run++;
    else if (c === 45) {
      run++;
      dashes++;
    } else {
      if (run > maxRun) maxRun = run;
      run = 0;
      if (c === 64) seen |= F_AT;
      else if (c === 58) {
        colons++;
        seen |= i > start && b[i - 1] === 58 ? F_KV | F_DOUBLE_COLON : F_KV;
      } else if (c === 61) seen |= F_KV;
      else if (c === 46) dots++;
      else if (c > 127) seen |= F_WIDE;
    }
  }
  if (run > maxRun) maxRun = run;
  if (num > maxNum) maxNum = num;
  if (pd > maxP) maxP = pd;
  if (gLen === 4 && g1 === 2 && g2 === 3) seen |= F_SSN;
  // DOB keywords (dob, birth, born...) all hold a 'b'; only values with digits and
  // lower-case letters need to look (a timestamp has neither 'b' nor any lower case).
  if (digits >= 4 && (seen & F_B) === 0 && lower !== 0 && hasByte(b, start, end, 98)) seen |= F_B;
  return classify(seen, digits, maxNum, maxP, maxRun, lower + upper, colons, dots, dashes, upper);
}
