// The shape of a statement text: its literal constants replaced by marks, so that texts
// differing only in literal values share a cached classification without being parsed
// (or lexed) again. Shared by the Postgres and MySQL classifiers: it bails out (null) on
// anything whose reading needs the real lexer of either.
const SHAPE_MAX_CHARS = 4096;
/** marks standing for a numeric and a string literal in a shape; refused in texts */
const NUM = '\u0001', STR = '\u0002';
const FIRST_WORD = /^\s*(select|insert|update|delete|values|with)(?![\w$\u0080-\uffff])/i;

const isIdentChar = (c: number) =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c >= 0x80;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * The text with every numeric literal and plain single-quoted string replaced by a mark,
 * so that two texts of one shape differ only in the values of such literals, which no
 * classification of a single DML statement depends on (the tree is the same, only
 * constants differ; the one place constants matter, EXPLAIN options, is not DML). Null
 * (no shortcut) for anything whose scanning would take the real lexer: quoted
 * identifiers, dollar quotes, backslashes, comments, prefixed strings (E'', U&'', B'',
 * X'', N''), parameters, control characters, several statements, a number run into
 * letters, or a text not starting with SELECT, INSERT, UPDATE, DELETE, VALUES or WITH.
 */
export function literalShape(text: string): string | null {
  if (text.length > SHAPE_MAX_CHARS || !FIRST_WORD.test(text)) return null;
  let out = '';
  let from = 0; // start of text not yet copied to out
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return null;
    switch (c) {
      case 0x22: // "
      case 0x24: // $
      case 0x5c: // backslash
        return null;
      case 0x2d: // -
        if (text.charCodeAt(i + 1) === 0x2d) return null;
        continue;
      case 0x2f: // /
        if (text.charCodeAt(i + 1) === 0x2a) return null;
        continue;
      case 0x3b: // ; only at the very end
        for (let j = i + 1; j < n; j++) {
          const d = text.charCodeAt(j);
          if (d !== 0x20 && d !== 0x09 && d !== 0x0a && d !== 0x0d) return null;
        }
        continue;
      case 0x27: { // '
        const before = i > 0 ? text.charCodeAt(i - 1) : 0x20;
        if (isIdentChar(before) || before === 0x26 /* & */ || before === 0x27) return null;
        let j = i + 1;
        for (;;) {
          if (j >= n) return null; // unterminated
          if (text.charCodeAt(j) === 0x27) {
            if (text.charCodeAt(j + 1) === 0x27) j += 2;
            else break;
          } else j++;
        }
        // the closing quote at j; a literal running straight into another quote or a word is not plain
        const after = j + 1 < n ? text.charCodeAt(j + 1) : 0x20;
        if (isIdentChar(after)) return null;
        out += text.slice(from, i) + STR;
        from = j + 1;
        i = j;
        continue;
      }
      default: {
        if (!isDigit(c)) continue;
        const before = i > 0 ? text.charCodeAt(i - 1) : 0x20;
        if (isIdentChar(before)) continue; // part of a name (t1)
        if (before === 0x2e /* . */) return null; // .5, a.1
        let j = i;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) === 0x2e) {
          j++;
          while (j < n && isDigit(text.charCodeAt(j))) j++;
        }
        if ((text.charCodeAt(j) | 0x20) === 0x65 /* e */) {
          let k = j + 1;
          if (text.charCodeAt(k) === 0x2b || text.charCodeAt(k) === 0x2d) k++;
          if (!isDigit(text.charCodeAt(k))) return null;
          while (k < n && isDigit(text.charCodeAt(k))) k++;
          j = k;
        }
        const after = j < n ? text.charCodeAt(j) : 0x20;
        if (isIdentChar(after) || after === 0x2e || after === 0x27) return null; // 0x1F, 1_000, 1abc, 1.2.3
        out += text.slice(from, i) + NUM;
        from = j;
        i = j - 1;
      }
    }
  }
  return out + text.slice(from);
}

