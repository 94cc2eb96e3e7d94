// Reads MySQL / MariaDB text the way the server's lexer does, before any parser sees it:
// statements split at `;` outside quotes and comments, comments dropped, and versioned
// comments (`/*! ... */`, `/*!50000 ... */`, MariaDB's `/*M! ... */`) EXPANDED, since the
// server runs what they hold. How quotes read depends on the session's sql_mode
// (ANSI_QUOTES makes "x" an identifier; NO_BACKSLASH_ESCAPES makes `\` a plain character),
// so the caller says which mode is in force.
//
// Each statement comes out twice: as tokens (for the statements Warden reads itself) and
// as a normalized text for node-sql-parser, in which every literal is a placeholder (`'_'`
// and `0`: no classification reads a literal's value, and equal shapes share a cache
// entry), every identifier MySQL reads differently from the parser's grammar is quoted
// with backticks, and `--` that is not a comment to MySQL (no space after it) stays two
// minus signs. The parser then never reads a comment or a quote its own way.

export interface LexMode {
  /** sql_mode ANSI_QUOTES: "x" is an identifier */
  ansiQuotes: boolean;
  /** sql_mode NO_BACKSLASH_ESCAPES: `\` in a string is a plain character */
  noBackslashEscapes: boolean;
}

export const DEFAULT_LEX_MODE: LexMode = { ansiQuotes: false, noBackslashEscapes: false };

export type TokenKind =
  /** an unquoted word: keyword or identifier (`u` holds it upper-cased) */
  | 'word'
  /** a quoted identifier (backticks, or double quotes under ANSI_QUOTES): `v` is the name */
  | 'ident'
  /** a string literal (any quoting, introducer or prefix): `v` is its value */
  | 'string'
  | 'number'
  /** @name, @'name': `v` is the name */
  | 'uservar'
  /** @@name, @@session.name: `v` is what follows @@ */
  | 'sysvar'
  /** a `?` parameter marker */
  | 'param'
  /** operators and punctuation */
  | 'op';

export interface Token {
  kind: TokenKind;
  /** the value: a name, a string's content, the operator's characters */
  v: string;
  /** upper-cased `v`, for words */
  u: string;
}

export interface LexedStatement {
  tokens: Token[];
  /** the statement as written (comments included) */
  source: string;
}

export interface LexResult {
  statements: LexedStatement[];
  /** where the text could not be read (unterminated quote or comment): nothing is trusted then */
  error?: string;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** characters of an unquoted MySQL identifier (letters, digits, `_`, `$`, anything non-ASCII) */
const isWordChar = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x5f || c === 0x24 || c >= 0x80;
const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Where a number starting at `i` ends (digits, a fraction, an exponent); `i` when none starts there. */
function numberEnd(text: string, i: number): number {
  const n = text.length;
  let j = i;
  while (j < n && isDigit(text.charCodeAt(j))) j++;
  const intDigits = j - i;
  if (j < n && text.charCodeAt(j) === 0x2e) {
    let k = j + 1;
    while (k < n && isDigit(text.charCodeAt(k))) k++;
    if (intDigits === 0 && k === j + 1) return i; // a lone dot
    j = k;
  } else if (intDigits === 0) return i;
  const e = text.charCodeAt(j);
  if (e === 0x65 || e === 0x45) {
    let k = j + 1;
    const sign = text.charCodeAt(k);
    if (sign === 0x2b || sign === 0x2d) k++;
    if (k < n && isDigit(text.charCodeAt(k))) {
      while (k < n && isDigit(text.charCodeAt(k))) k++;
      j = k;
    }
  }
  return j;
}

const backtick = (name: string) => '`' + name.replace(/`/g, '``') + '`';

/**
 * Lex statements starting at `from`, one at a time; `next` returns the next statement
 * and where the one after begins, so a caller can change the mode between statements
 * (a SET sql_mode in the same text changes how the server reads the rest).
 */
export class MysqlLexer {
  pos: number;
  /** inside an expanded versioned comment: its `*` `/` closes it */
  private inVersioned = false;

  constructor(
    readonly text: string,
    from = 0,
  ) {
    this.pos = from;
  }

  get done(): boolean {
    this.skipBlanks();
    return this.pos >= this.text.length;
  }

  /** The next statement under `mode`; throws LexError when the text cannot be read. */
  next(mode: LexMode): LexedStatement | null {
    const text = this.text;
    const n = text.length;
    const tokens: Token[] = [];
    const start = this.pos;
    let lastWasString = false;
    while (this.pos < n) {
      const i = this.pos;
      const c = text.charCodeAt(i);
      if (isSpace(c)) {
        this.pos++;
        continue;
      }
      // comments, and the versioned ones that are not comments at all
      if (c === 0x23 /* # */) {
        this.skipLine();
        continue;
      }
      if (c === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x2d) {
        const after = text.charCodeAt(i + 2);
        if (i + 2 >= n || isSpace(after) || after < 0x20) {
          this.skipLine();
          continue;
        }
        // `--1` is minus minus one to MySQL, never a comment
        tokens.push({ kind: 'op', v: '-', u: '-' }, { kind: 'op', v: '-', u: '-' });
        this.pos += 2;
        lastWasString = false;
        continue;
      }
      if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2a /* * */) {
        if (this.openComment()) continue;
      }
      if (c === 0x2a /* * */ && text.charCodeAt(i + 1) === 0x2f && this.inVersioned) {
        this.inVersioned = false;
        this.pos += 2;
        continue;
      }
      if (c === 0x3b /* ; */) {
        this.pos++;
        if (tokens.length === 0) continue; // an empty statement
        break;
      }
      // quoted things
      if (c === 0x27 /* ' */ || (c === 0x22 /* " */ && !mode.ansiQuotes)) {
        const v = this.readQuoted(c, !mode.noBackslashEscapes);
        if (lastWasString) {
          // 'a' 'b' is one string to MySQL
          const prev = tokens[tokens.length - 1]!;
          prev.v += v;
          prev.u = prev.v;
        } else tokens.push({ kind: 'string', v, u: v });
        lastWasString = true;
        continue;
      }
      lastWasString = false;
      if (c === 0x60 /* ` */ || c === 0x22 /* " under ANSI_QUOTES */) {
        const v = this.readQuoted(c, false);
        tokens.push({ kind: 'ident', v, u: v.toUpperCase() });
        continue;
      }
      if (c === 0x40 /* @ */) {
        this.readVariable(tokens, mode);
        continue;
      }
      if (c === 0x3f /* ? */) {
        tokens.push({ kind: 'param', v: '?', u: '?' });
        this.pos++;
        continue;
      }
      if (isWordChar(c) || (c === 0x2e && isDigit(text.charCodeAt(i + 1)) && !this.afterName(tokens))) {
        this.readWord(tokens, mode);
        if (tokens[tokens.length - 1]?.kind === 'string') lastWasString = true;
        continue;
      }
      // operators: the multi-character ones MySQL has, else one character
      const two = text.slice(i, i + 3);
      const op = ['<=>', '->>'].includes(two) ? two : ['<=', '>=', '<>', '!=', ':=', '||', '&&', '<<', '>>', '->'].includes(two.slice(0, 2)) ? two.slice(0, 2) : text[i]!;
      tokens.push({ kind: 'op', v: op, u: op });
      this.pos += op.length;
    }
    if (this.pos >= n && this.inVersioned) throw new LexError('a versioned comment /*! is not closed');
    if (tokens.length === 0) return null;
    return { tokens, source: text.slice(start, this.pos).replace(/;$/, '').trim() };
  }

  private skipBlanks(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (isSpace(c) || c === 0x3b) this.pos++;
      else if (c === 0x23) this.skipLine();
      else if (c === 0x2d && text.charCodeAt(this.pos + 1) === 0x2d && (this.pos + 2 >= text.length || isSpace(text.charCodeAt(this.pos + 2)) || text.charCodeAt(this.pos + 2) < 0x20)) this.skipLine();
      else if (c === 0x2f && text.charCodeAt(this.pos + 1) === 0x2a && !/^\/\*M?!/.test(text.slice(this.pos, this.pos + 4))) {
        if (!this.openComment()) return;
      } else return;
    }
  }

  private skipLine(): void {
    const nl = this.text.indexOf('\n', this.pos);
    this.pos = nl < 0 ? this.text.length : nl + 1;
  }

  /**
   * At `/*`: a plain comment is skipped whole (true); a versioned one is opened, its
   * version digits skipped, and its content lexed as statement text (true).
   */
  private openComment(): boolean {
    const text = this.text;
    const i = this.pos;
    let j = i + 2;
    let versioned = false;
    if (text.charCodeAt(j) === 0x21 /* ! */) {
      versioned = true;
      j++;
    } else if (text.charCodeAt(j) === 0x4d /* M */ && text.charCodeAt(j + 1) === 0x21) {
      versioned = true;
      j += 2;
    }
    if (versioned && !this.inVersioned) {
      // the server version the content needs: whatever it says, Warden reads the content
      let k = 0;
      while (k < 6 && isDigit(text.charCodeAt(j))) {
        j++;
        k++;
      }
      this.inVersioned = true;
      this.pos = j;
      return true;
    }
    const end = text.indexOf('*/', i + 2);
    if (end < 0) throw new LexError('a comment /* is not closed');
    this.pos = end + 2;
    return true;
  }

  /** A quoted string or identifier from its opening quote; returns its value. */
  private readQuoted(quote: number, backslashes: boolean): string {
    const text = this.text;
    let j = this.pos + 1;
    let v = '';
    let from = j;
    for (;;) {
      if (j >= text.length) throw new LexError(`a quoted ${quote === 0x60 ? 'identifier' : 'string'} is not closed`);
      const c = text.charCodeAt(j);
      if (c === 0x5c && backslashes) {
        if (j + 1 >= text.length) throw new LexError('a string ends in a backslash');
        v += text.slice(from, j) + unescape(text[j + 1]!);
        j += 2;
        from = j;
        continue;
      }
      if (c === quote) {
        if (text.charCodeAt(j + 1) === quote) {
          v += text.slice(from, j + 1);
          j += 2;
          from = j;
          continue;
        }
        v += text.slice(from, j);
        this.pos = j + 1;
        return v;
      }
      j++;
    }
  }

  /** @var, @'var', @`var`, @@var, @@session.var */
  private readVariable(tokens: Token[], mode: LexMode): void {
    const text = this.text;
    if (text.charCodeAt(this.pos + 1) === 0x40) {
      let j = this.pos + 2;
      while (j < text.length && (isWordChar(text.charCodeAt(j)) || text.charCodeAt(j) === 0x2e)) j++;
      const v = text.slice(this.pos + 2, j);
      tokens.push({ kind: 'sysvar', v: v.toLowerCase(), u: v.toUpperCase() });
      this.pos = j;
      return;
    }
    this.pos++;
    const c = text.charCodeAt(this.pos);
    let v: string;
    if (c === 0x27 || c === 0x22 || c === 0x60) v = this.readQuoted(c, c !== 0x60 && !mode.noBackslashEscapes);
    else {
      let j = this.pos;
      while (j < text.length && (isWordChar(text.charCodeAt(j)) || text.charCodeAt(j) === 0x2e)) j++;
      v = text.slice(this.pos, j);
      this.pos = j;
    }
    tokens.push({ kind: 'uservar', v, u: v.toUpperCase() });
  }

  /** The previous token ends a name (`t.5` reads as a name part, not a number) */
  private afterName(tokens: Token[]): boolean {
    const t = tokens[tokens.length - 1];
    return t !== undefined && (t.kind === 'ident' || (t.kind === 'word' && !/^\d/.test(t.v)));
  }

  /**
   * A word: keyword, identifier (which may start with a digit), number, or a prefixed
   * string (X'..', B'..', N'..', _charset'..'), which is one literal.
   */
  private readWord(tokens: Token[], mode: LexMode): void {
    const text = this.text;
    const numEnd = numberEnd(text, this.pos);
    if (numEnd > this.pos && !(numEnd < text.length && isWordChar(text.charCodeAt(numEnd)))) {
      // a whole number (1, 1.5, .5, 1e-3), not the start of a name like 1abc
      const v = text.slice(this.pos, numEnd);
      tokens.push({ kind: 'number', v, u: v });
      this.pos = numEnd;
      return;
    }
    let j = this.pos;
    while (j < text.length && isWordChar(text.charCodeAt(j))) j++;
    if (j === this.pos) {
      // `.` before a digit run into letters (.5x): a dot, then a name
      tokens.push({ kind: 'op', v: '.', u: '.' });
      this.pos++;
      return;
    }
    const word = text.slice(this.pos, j);
    const q = text.charCodeAt(j);
    const upper = word.toUpperCase();
    if ((q === 0x27 || (q === 0x22 && !mode.ansiQuotes)) && (upper === 'X' || upper === 'B' || upper === 'N' || upper.startsWith('_'))) {
      // X'41', N'text', _utf8mb4'text': one string literal
      this.pos = j;
      const v = this.readQuoted(q, !mode.noBackslashEscapes && upper !== 'X' && upper !== 'B');
      tokens.push({ kind: 'string', v, u: v });
      return;
    }
    if (/^0x[0-9a-fA-F]+$/.test(word) || /^0b[01]+$/.test(word)) {
      tokens.push({ kind: 'number', v: word, u: upper });
      this.pos = j;
      return;
    }
    tokens.push({ kind: 'word', v: word, u: upper });
    this.pos = j;
  }
}

export class LexError extends Error {}

/**
 * The text node-sql-parser reads for these tokens: literals as placeholders, quoted names
 * in backticks, a name starting with a digit quoted, `--` as two minus signs, dots
 * joining name parts. Equal for statements that differ only in literal values.
 */
export function normalize(tokens: readonly Token[], from = 0, to = tokens.length): string {
  let out = '';
  let glued = true;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    let s: string;
    switch (t.kind) {
      case 'string': s = `'_'`; break;
      case 'number': s = '0'; break;
      case 'ident': s = backtick(t.v); break;
      case 'word': s = isDigit(t.v.charCodeAt(0)) ? backtick(t.v) : t.v; break;
      case 'sysvar': s = `@@${t.v}`; break;
      case 'uservar': s = /^[A-Za-z_][\w$]*$/.test(t.v) ? `@${t.v}` : '@_v'; break;
      default: s = t.v;
    }
    if (s === '.') {
      out += '.';
      glued = true;
      continue;
    }
    out += glued ? s : ` ${s}`;
    glued = false;
  }
  return out;
}

function unescape(ch: string): string {
  switch (ch) {
    case '0': return '\0';
    case 'b': return '\b';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'Z': return '\x1a';
    // \% and \_ keep their backslash (LIKE patterns); any other \x is x
    case '%': return '\\%';
    case '_': return '\\_';
    default: return ch;
  }
}

/** Is this a whole numeric literal as MySQL writes one? */
export function isNumberText(s: string): boolean {
  return NUMBER.test(s);
}

/** The lexing flags of a sql_mode value (`STRICT_TRANS_TABLES,ANSI_QUOTES,...`). */
export function lexModeOf(sqlMode: string): LexMode & { unsupported?: string } {
  const parts = new Set(sqlMode.toUpperCase().split(',').map((s) => s.trim()));
  // ANSI, DB2, MAXDB, MSSQL, ORACLE and POSTGRESQL imply ANSI_QUOTES; ORACLE (MariaDB)
  // and MSSQL switch the server to another grammar altogether
  const ansi = ['ANSI_QUOTES', 'ANSI', 'DB2', 'MAXDB', 'MSSQL', 'ORACLE', 'POSTGRESQL'].some((m) => parts.has(m));
  const unsupported = parts.has('ORACLE') ? 'ORACLE' : parts.has('MSSQL') ? 'MSSQL' : undefined;
  return { ansiQuotes: ansi, noBackslashEscapes: parts.has('NO_BACKSLASH_ESCAPES'), ...(unsupported ? { unsupported } : {}) };
}

/**
 * Client character sets in which a multi-byte character may end in a byte that is `\`,
 * `'` or another ASCII character (the classic 0xbf5c): the server reads such text
 * differently from a UTF-8 reading of it, so Warden does not read it at all.
 */
export const UNREADABLE_CHARSETS = new Set(['big5', 'cp932', 'gbk', 'gb18030', 'sjis']);
