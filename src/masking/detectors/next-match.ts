/**
 * The next match of a global regex, or null without running it when fewer than
 * `shortest` characters are left after lastIndex. Most values hold one finding, so the
 * call after it is the common one, and a failing exec costs about what a match does.
 * Callers set lastIndex to 0 before the first call.
 */
export function nextMatch(re: RegExp, s: string, shortest: number): RegExpExecArray | null {
  return re.lastIndex + shortest <= s.length ? re.exec(s) : null;
}
