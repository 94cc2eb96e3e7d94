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

// Keyword, then an optional identifier tail (`db_password_old`), optional closing quote,
// a separator (= : => or, for bearer-like words, spaces), optional opening quote, the value.
const KEYWORD =
  /(pass(?:word|wd|phrase)?|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?|token|bearer|basic|auth)([A-Za-z0-9_-]{0,24})(["']?)([ \t]*(?:[:=]|=>)[ \t]*|[ \t]+)(["']?)([^\s"'`,;&}\\<>()]+)/gi;

/** Values that say "there is no secret here" (or that were already masked). */
const NOT_SECRET = new Set(['true', 'false', 'null', 'none', 'nil', 'undefined', 'yes', 'no', 'required', 'optional', 'string', 'str', 'text', 'varchar', 'hidden', 'redacted', 'bearer', 'basic']);

/** `password_updated_at`, `password_min_length`: facts about a password, not one. */
const NOT_SECRET_TAIL = /(?:_at|_on|date|time|count|len|length|hint|policy|expires?|expiry|required|enabled|strength|min|max|age|version|reset|changed|updated|set)$/i;

/**
 * Tails a weak keyword may carry and still name a secret: `tokens`, `secret_key`,
 * `auth_token`, `secret_access_key`, `authorization`. Others (`token_type`,
 * `auth_method`, `secret_santa`) name something else.
 */
const WEAK_TAIL = /^(?:s|[_-]?(?:key|token|secret|value|header|access[_-]?key|access[_-]?token|key[_-]?base|orization))?$/i;

/** Words after which a single space separates the secret: `Bearer <token>`, `Basic <b64>`, `token <t>`. */
const SPACE_SEPARATED = new Set(['bearer', 'basic', 'token']);

/** password, passwd, passphrase, pwd: any value is a secret. A bare "pass" (test results) is not. */
function strongKeyword(k: string): boolean {
  const l = k.toLowerCase();
  return l === 'pwd' || (l.startsWith('pass') && l.length > 4);
}

function placeholder(value: string): boolean {
  if (NOT_SECRET.has(value.toLowerCase())) return true;
  // already masked ([SECRET], [EMAIL:1f2e...], ****), a template (${X}), a bind marker (?, %s, $1)
  return /^\[[A-Z_]+(?::[0-9a-f]+)?\]$/.test(value) || /^\*+$/.test(value) || /^\$\{.*\}?$/.test(value) || value === '?' || value === '%s' || /^\$\d+$/.test(value);
}

export function detectKeywordSecret(s: string, out: Findings): void {
  KEYWORD.lastIndex = 0;
  for (let m = KEYWORD.exec(s); m; m = KEYWORD.exec(s)) {
    const [all, kw, tail, , sep, , value] = m;
    // On a rejection resume right after the keyword: what follows may hold another
    // ("Authorization: Bearer <token>", "secret_access_key=...").
    KEYWORD.lastIndex = m.index + kw.length;
    // The keyword must start a word or follow '_' / '-' (DB_PASSWORD, x-api-key), not sit inside one (bypass).
    const before = m.index > 0 ? s.charCodeAt(m.index - 1) : 32;
    if ((before >= 97 && before <= 122) || (before >= 65 && before <= 90) || (before >= 48 && before <= 57)) continue;
    const spaceOnly = !/[:=]/.test(sep);
    const lower = kw.toLowerCase();
    if (spaceOnly && (!SPACE_SEPARATED.has(lower) || tail.length > 0)) continue;
    if (placeholder(value)) continue;
    const strong = strongKeyword(kw) && !spaceOnly && tail.length <= 12 && !NOT_SECRET_TAIL.test(tail);
    if (!strong && (!WEAK_TAIL.test(tail) || !looksSecret(value))) continue;
    const start = m.index + all.length - value.length;
    const entity = strong ? 'password' : /aws|secret_access/i.test(kw + tail) && value.length === 40 ? 'aws_secret_key' : 'secret';
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
