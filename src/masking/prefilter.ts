// The cheap first look at every value: one pass over the characters (or bytes) that
// counts what the detectors need to have any chance: an '@' for emails, enough digits
// for cards and phones, a long token-like run for API keys, '=' or ':' for `key=value`
// secrets. Only the detectors whose trigger fired run their regexes, so clean data
// (names, numbers, prose) costs one tight loop and no allocation.

export const T_EMAIL = 1 << 0;
export const T_URL_PASSWORD = 1 << 1;
export const T_KEYWORD = 1 << 2;
export const T_PHONE = 1 << 3;
export const T_CARD = 1 << 4;
export const T_SSN = 1 << 5;
export const T_IBAN = 1 << 6;
export const T_IPV4 = 1 << 7;
export const T_IPV6 = 1 << 8;
export const T_TOKEN = 1 << 9;
export const T_PEM = 1 << 10;
export const T_DOB = 1 << 11;

/** Shortest run of [A-Za-z0-9_-] that may hold an API token (AWS ids are 20, most are longer). */
const TOKEN_RUN = 16;

function classify(digits: number, numRun: number, maxRun: number, at: number, colons: number, kv: number, dots: number, dashes: number, upper: number, hasB: number): number {
  let t = 0;
  if (at) t |= T_EMAIL;
  if (at && colons) t |= T_URL_PASSWORD;
  if (kv || maxRun >= TOKEN_RUN) t |= T_KEYWORD;
  if (numRun >= 8) t |= T_PHONE;
  if (numRun >= 13) t |= T_CARD;
  if (numRun >= 9) t |= T_SSN;
  if (digits >= 8 && upper >= 2) t |= T_IBAN;
  if (digits >= 4 && dots >= 3) t |= T_IPV4;
  if (colons >= 2) t |= T_IPV6;
  if (maxRun >= TOKEN_RUN) t |= T_TOKEN;
  if (dashes >= 10) t |= T_PEM;
  if (digits >= 4 && hasB) t |= T_DOB;
  return t;
}

/** Trigger bits for a string. */
export function triggersOf(s: string): number {
  let digits = 0, run = 0, maxRun = 0, at = 0, colons = 0, kv = 0, dots = 0, dashes = 0, upper = 0, hasB = 0;
  // Digits of the current "number": digit groups joined by single separators, as in
  // "4111 1111 1111 1111" or "+1 (415) 555-2671"; a timestamp's ':' ends one.
  let num = 0, maxNum = 0, sep = 0;
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    // Lower-case letters first: they are most of what prose is made of.
    if (c >= 97 && c <= 122) {
      run++;
      if (c === 98) hasB = 1;
      if (num !== 0) {
        if (num > maxNum) maxNum = num;
        num = 0;
      }
      continue;
    }
    if (c >= 48 && c <= 57) {
      digits++;
      run++;
      num++;
      sep = 0;
      continue;
    }
    if (num !== 0) {
      // space - . ( ) + may join digit groups, one at a time (") " in "(415) 555" is two)
      if ((c === 32 || c === 45 || c === 46 || c === 40 || c === 41 || c === 43) && (sep === 0 || (sep === 1 && c === 32))) sep++;
      else {
        if (num > maxNum) maxNum = num;
        num = 0;
        sep = 0;
      }
    }
    if (c >= 65 && c <= 90) {
      run++;
      upper++;
      if (c === 66) hasB = 1;
    } else if (c === 95) run++;
    else if (c === 45) {
      run++;
      dashes++;
    } else {
      if (run > maxRun) maxRun = run;
      run = 0;
      if (c === 64) at = 1;
      else if (c === 58) {
        colons++;
        kv = 1;
      } else if (c === 61) kv = 1;
      else if (c === 46) dots++;
    }
  }
  if (run > maxRun) maxRun = run;
  if (num > maxNum) maxNum = num;
  return classify(digits, maxNum, maxRun, at, colons, kv, dots, dashes, upper, hasB);
}

/**
 * Trigger bits for UTF-8 bytes; non-ASCII bytes separate runs as non-ASCII characters do.
 * The twin of triggersOf on purpose: this is the hottest loop of masking (every byte of
 * every DataRow), and one loop over either representation avoids decoding rows to
 * strings or a call per character. Change the two together.
 */
export function triggersOfBytes(b: Uint8Array, start: number, end: number): number {
  let digits = 0, run = 0, maxRun = 0, at = 0, colons = 0, kv = 0, dots = 0, dashes = 0, upper = 0, hasB = 0;
  // Digits of the current "number": digit groups joined by single separators, as in
  // "4111 1111 1111 1111" or "+1 (415) 555-2671"; a timestamp's ':' ends one.
  let num = 0, maxNum = 0, sep = 0;
  for (let i = start; i < end; i++) {
    const c = b[i];
    // Lower-case letters first: they are most of what prose is made of.
    if (c >= 97 && c <= 122) {
      run++;
      if (c === 98) hasB = 1;
      if (num !== 0) {
        if (num > maxNum) maxNum = num;
        num = 0;
      }
      continue;
    }
    if (c >= 48 && c <= 57) {
      digits++;
      run++;
      num++;
      sep = 0;
      continue;
    }
    if (num !== 0) {
      // space - . ( ) + may join digit groups, one at a time (") " in "(415) 555" is two)
      if ((c === 32 || c === 45 || c === 46 || c === 40 || c === 41 || c === 43) && (sep === 0 || (sep === 1 && c === 32))) sep++;
      else {
        if (num > maxNum) maxNum = num;
        num = 0;
        sep = 0;
      }
    }
    if (c >= 65 && c <= 90) {
      run++;
      upper++;
      if (c === 66) hasB = 1;
    } else if (c === 95) run++;
    else if (c === 45) {
      run++;
      dashes++;
    } else {
      if (run > maxRun) maxRun = run;
      run = 0;
      if (c === 64) at = 1;
      else if (c === 58) {
        colons++;
        kv = 1;
      } else if (c === 61) kv = 1;
      else if (c === 46) dots++;
    }
  }
  if (run > maxRun) maxRun = run;
  if (num > maxNum) maxNum = num;
  return classify(digits, maxNum, maxRun, at, colons, kv, dots, dashes, upper, hasB);
}
