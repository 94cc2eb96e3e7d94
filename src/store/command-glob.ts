// `commands:` rule globs (policy/names.ts globToRegExp, policy/ssh-match.ts) turned into
// what the store can search with: a LIKE pattern and the exact test the rules apply.
// A glob has one wildcard, `*` (any run of characters, newlines too), is case-sensitive
// and matches the whole command text. LIKE has two wildcards of its own, `%` and `_`,
// which in a glob are plain characters: they (and the escape character) are escaped.
// LIKE is only a prefilter: SQLite's LIKE ignores ASCII case, so every row it keeps is
// tested again with the rule's own regular expression.
import { globToRegExp } from '../policy/names.ts';

/** the escape character of the LIKE patterns made here (`LIKE ? ESCAPE '\'`) */
export const LIKE_ESCAPE = '\\';

/** A glob as a LIKE pattern: `*` -> `%`; `%`, `_` and `\` escaped. */
export function globToLike(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '%';
    else if (ch === '%' || ch === '_' || ch === LIKE_ESCAPE) out += LIKE_ESCAPE + ch;
    else out += ch;
  }
  return out;
}

export interface CommandMatcher {
  /** LIKE patterns (ESCAPE '\'): a command whose text matches one of them may match */
  like: string[];
  /**
   * A LIKE pattern over the event's raw JSON (`%<longest literal part of the glob>%`), or
   * null: a text that matches holds that part, and JSON writes it unchanged when it has no
   * `"`, `\` or control character. Cheaper than reading the text out of the JSON first.
   */
  rawLike: string | null;
  /** the exact test, as a `commands:` rule reads the text */
  test(text: string): boolean;
}

/**
 * The matcher for one glob. Like ssh-match.ts, a shell command given by its program's
 * path (`/usr/bin/rm -rf x`) also matches by the program's base name (`rm *`); the second
 * LIKE pattern finds those texts (a path ending in `/` + the glob).
 */
export function commandMatcher(glob: string): CommandMatcher {
  if (glob === '') throw new Error('the command glob is empty');
  const re = new RegExp(globToRegExp(glob).source, 's');
  const like = [globToLike(glob)];
  if (!glob.startsWith('*') && !glob.startsWith('/')) like.push(`%/${globToLike(glob)}`);
  return {
    like,
    rawLike: rawLike(glob),
    test(text) {
      if (re.test(text)) return true;
      const sp = text.indexOf(' ');
      const first = sp === -1 ? text : text.slice(0, sp);
      if (!first.includes('/')) return false;
      return re.test(first.slice(first.lastIndexOf('/') + 1) + (sp === -1 ? '' : text.slice(sp)));
    },
  };
}

/** the shortest literal part worth a raw prefilter: shorter ones rule out too little */
const MIN_RAW = 3;

function rawLike(glob: string): string | null {
  const part = glob.split('*').filter((p) => p.length >= MIN_RAW && JSON.stringify(p) === `"${p}"`).sort((a, b) => b.length - a.length)[0];
  return part === undefined ? null : `%${globToLike(part)}%`;
}
