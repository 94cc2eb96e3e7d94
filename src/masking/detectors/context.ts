// Secrets and personal data recognised by what surrounds them rather than by their
// shape: passwords in URLs (`postgres://u:PASS@h`), values after a keyword
// (`password=...`, `"api_key": "..."`, `Authorization: Bearer ...`) and dates after
// "date of birth". Only the value is replaced, so `key=`, quotes and JSON stay intact.
import type { Findings } from '../findings.ts';
import { looksSecret } from './checksums.ts';

/** scheme://user:PASSWORD@host — the password may itself hold '@' (last one before the host wins). */
const URL_PASSWORD = /\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\/\/[^\s:@/?#]*:([^\s/]*)@[^\s@/]/g;

export function detectUrlPassword(s: string, out: Findings): void {
  URL_PASSWORD.lastIndex = 0;
  for (let m = URL_PASSWORD.exec(s); m; m = URL_PASSWORD.exec(s)) {
    const pass = m[1];
    if (pass.length === 0) continue;
    const end = m.index + m[0].length - 2; // before "@" and the host's first character
    out.push(end - pass.length, end, 'password');
    URL_PASSWORD.lastIndex = end + 1;
  }
}

// Keyword secrets, also where the keyword is one word of a longer identifier, in any
// naming style: `DB_PASSWORD`, `PGPASSWORD`, `dbPassword`, `db-password`,
// `spring.datasource.password`, `AWS_SECRET_ACCESS_KEY`, `jwtSigningKey`, `X-Api-Key`.
// The boundary rules, in the order they are applied:
// - before the keyword: start of text or a non-alphanumeric (`_ - . " --`), or a
//   camelCase step (lower-case or digit, then the keyword's capital: `webhookSecret`).
//   Only the password words may also be glued to what precedes them (`PGPASSWORD`,
//   `MYSQLPASSWORD`): no English word ends in "password", but many hold "token" or "secret".
//   A bare `key` counts only after signing / encryption / hmac / master (SECRET_KEY_QUALIFIER).
// - after it, the identifier tail: a strong (password) keyword must not run on into a
//   longer word (`passwordless`, `PASSWORDLESS`; a plural `passwords` is fine) and no word
//   of its tail may name a fact about the password (`password_reset_sent_at`,
//   `passwordMinLength`, `PASSWORD_HASH_ALGO`, `password_file`); a weak keyword (secret,
//   token, api key, auth...) takes only the tails in WEAK_TAIL (`_key`, `Token`, `s`).
// - the value: never a placeholder (true, null, ****, ${X}, ?). After a strong keyword
//   that is the identifier's last word any other value is a password ("hunter2"); with
//   words after it (`password_old`) a date, time or number shorter than 6 digits is a
//   fact, not a password; `PWD=/home/app` is the shell's working directory. After a weak
//   keyword the value must look like a secret (looksSecret: 8 characters at least, two
//   character classes and some entropy), so `max_tokens=1024`, `api_key_id=17` and
//   `secret_santa: Maria` stay. A quoted value is masked to its closing quote.
const KEYWORD =
  /(pass(?:word|wd|phrase)?|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|key|client[_-]?secret|credentials?|token|bearer|basic|auth)([A-Za-z0-9_-]{0,24})(["']?)([ \t]*(?:[:=]|=>)[ \t]*|[ \t]+)(["']?)([^\s"'`,;&}\\<>()]+)/gi;

/**
 * The words that make a bare `key` a secret one (`signing_key`, `jwtSigningKey`,
 * `ENCRYPTION_KEY`); `primary_key`, `sort_key`, `keyboard` are not. Looked for behind a
 * matched `key` rather than in the regex: a rare 'k' starts fewer attempts than common letters.
 */
const SECRET_KEY_QUALIFIER = /(?:signing|encryption|hmac|master)[_-]?$/i;

/** Values that say "there is no secret here" (or that were already masked). */
const NOT_SECRET = new Set(['true', 'false', 'null', 'none', 'nil', 'undefined', 'yes', 'no', 'required', 'optional', 'string', 'str', 'text', 'varchar', 'hidden', 'redacted', 'bearer', 'basic']);

/** Words of a tail that make it a fact about a password (`password_updated_at`, `passwordMinLength`), not one. */
const FACT_WORDS = new Set(
  ('at on date time ts count len length hint policy expire expires expiry expired required enabled disabled strength min max age version ' +
    'reset changed change updated set last sent attempts attempt retries tries lockout ttl days hours seconds rotation ' +
    'algo algorithm scheme method type mode format rule rules pattern regex complexity history ' +
    'file path dir env var field label prompt placeholder url uri id name ref').split(' '),
);

/**
 * Tails a weak keyword may carry and still name a secret: `tokens`, `secret_key`,
 * `auth_token`, `secret_access_key`, `authorization`. Others (`token_type`,
 * `auth_method`, `secret_santa`) name something else.
 */
const WEAK_TAIL = /^(?:s|[_-]?(?:key|token|secret|value|header|access[_-]?key|access[_-]?token|key[_-]?base|orization))?$/i;

/** Words after which a single space separates the secret: `Bearer <token>`, `Basic <b64>`, `token <t>`. */
const SPACE_SEPARATED = new Set(['bearer', 'basic', 'token']);

/** A date or time (`2024-01-01`, `10:00:00`, `2024-01-01T10:00:00Z`) or a short number: facts, not passwords. */
const FACT_VALUE = /^(?:\d{1,5}|\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?|\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)$/;

/** password, passwd, passphrase, pwd: any value is a secret. A bare "pass" (test results) is not. */
function strongKeyword(k: string): boolean {
  const l = k.toLowerCase();
  return l === 'pwd' || (l.startsWith('pass') && l.length > 4);
}

function isLetterOrDigit(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}
function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** May a keyword start at `at` after what precedes it (see the boundary rules above)? */
function keywordStartsWord(s: string, at: number, kw: string): boolean {
  if (at === 0) return true;
  const before = s.charCodeAt(at - 1);
  if (!isLetterOrDigit(before)) return true;
  if (!isUpper(before) && isUpper(kw.charCodeAt(0))) return true; // camelCase: dbPassword, accessToken
  return kw.length >= 6 && kw.toLowerCase().startsWith('pass'); // glued: PGPASSWORD (not "bypass")
}

/** Does a strong keyword's tail run on into a longer word, or name a fact about the password? */
function strongTailRejects(kw: string, tail: string): boolean {
  if (tail.length === 0) return false;
  const first = tail.charCodeAt(0);
  // A letter in the keyword's own case continues the word: passwordless, PASSWORDLESS (but passwords).
  if (((first | 32) >= 97 && (first | 32) <= 122) && isUpper(first) === isUpper(kw.charCodeAt(kw.length - 1))) {
    if (!/^s(?:$|[^a-z])/i.test(tail)) return true;
  }
  // The tail's words: split at '_' / '-' and camelCase steps (ResetSentAt -> reset sent at).
  for (const w of tail.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[_-]+/)) if (FACT_WORDS.has(w)) return true;
  return false;
}

function placeholder(value: string): boolean {
  if (NOT_SECRET.has(value.toLowerCase())) return true;
  // already masked ([SECRET], [EMAIL:1f2e...], ****), a template (${X}), a bind marker (?, %s, $1)
  return /^\[[A-Z_]+(?::[0-9a-f]+)?\]$/.test(value) || /^\*+$/.test(value) || /^\$\{.*\}?$/.test(value) || value === '?' || value === '%s' || /^\$\d+$/.test(value);
}

/** The value opened by `quote` at `start`, to the closing quote on the same line (or as matched if none). */
function quotedValue(s: string, start: number, quote: string, matched: string): string {
  const endLimit = Math.min(s.length, start + 256);
  for (let i = start + matched.length; i < endLimit; i++) {
    const c = s[i];
    if (c === quote && s[i - 1] !== '\\') return s.slice(start, i); // not an escaped \" inside JSON
    if (c === '\n' || c === '\r') break;
  }
  return matched;
}

export function detectKeywordSecret(s: string, out: Findings): void {
  KEYWORD.lastIndex = 0;
  for (let m = KEYWORD.exec(s); m; m = KEYWORD.exec(s)) {
    const [all, kw, tail, , sep, open] = m;
    let value = m[6];
    // On a rejection resume right after the keyword: what follows may hold another
    // ("Authorization: Bearer <token>", "secret_access_key=...", "password_reset_token=...").
    KEYWORD.lastIndex = m.index + kw.length;
    if (!keywordStartsWord(s, m.index, kw)) continue;
    if (kw.length === 3 && (kw[0] === 'k' || kw[0] === 'K') && !SECRET_KEY_QUALIFIER.test(s.slice(Math.max(0, m.index - 12), m.index))) continue;
    const spaceOnly = !/[:=]/.test(sep);
    const lower = kw.toLowerCase();
    if (spaceOnly && (!SPACE_SEPARATED.has(lower) || tail.length > 0)) continue;
    if (placeholder(value)) continue;
    let strong = strongKeyword(kw) && !spaceOnly && tail.length <= 12 && !strongTailRejects(kw, tail);
    if (strong && tail.length > 0 && FACT_VALUE.test(value)) strong = false;
    if (strong && lower === 'pwd' && (value.charCodeAt(0) === 47 || value.charCodeAt(0) === 126)) continue; // PWD=/home/app, ~/src
    if (!strong && (!WEAK_TAIL.test(tail) || !looksSecret(value))) continue;
    const start = m.index + all.length - value.length;
    // A quoted value runs to its closing quote: "Tr0ub4dor&3" is one password, not "Tr0ub4dor".
    if (open) value = quotedValue(s, start, open, value);
    const entity = strong ? 'password' : /aws|secret[_-]?access/i.test(kw + tail) && value.length === 40 ? 'aws_secret_key' : 'secret';
    out.push(start, start + value.length, entity);
    KEYWORD.lastIndex = start + value.length;
  }
}

const DATE = '(?:\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}|\\d{1,2}[-/.]\\d{1,2}[-/.]\\d{2,4}|\\d{1,2}(?:st|nd|rd|th)? [A-Z][a-z]{2,8},? \\d{4}|[A-Z][a-z]{2,8} \\d{1,2}(?:st|nd|rd|th)?,? \\d{4})';
const DOB = new RegExp(`\\b(?:dob|d\\.o\\.b\\.?|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday|born(?:[ \\t]+on)?)["']?[ \\t]*[:=]?[ \\t]*["']?(${DATE})`, 'gi');

export function detectDobContext(s: string, out: Findings): void {
  DOB.lastIndex = 0;
  for (let m = DOB.exec(s); m; m = DOB.exec(s)) {
    const start = m.index + m[0].length - m[1].length;
    out.push(start, start + m[1].length, 'dob');
  }
}

/** A whole value that is a date (for a text column whose name says birth date). */
export const DATE_VALUE = new RegExp(`^\\s*${DATE}\\s*$`);
