// MySQL / MariaDB statement classification: the same Classification as classifyPostgres,
// read the way the server reads the text in the session's mode (see mysql-lexer.ts), on
// node-sql-parser's MySQL or MariaDB grammar, with the statements that grammar does not
// know read from their tokens (mysql-statements.ts). Anything neither can read is one
// opaque `unknown` statement, never allowed by default.
//
// Within one text, a statement that may change how the server reads the rest (SET
// sql_mode to a value not written as a literal, SET NAMES, CALL, EXECUTE, anything
// unreadable) makes everything after it opaque: the server lexes each statement of a
// multi-statement text only after running the ones before it.
//
// Caching: exact text -> Classification per session syntax; normalized statement ->
// Statement for what the parser read (literal values never change a parse: the parser only
// ever sees placeholders).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Parser } from 'node-sql-parser/build/mysql.js';
import { Lru } from './lru.ts';
import { literalShape } from './literal-shape.ts';
import { DEFAULT_LEX_MODE, LexError, lexModeOf, MysqlLexer, normalize, UNREADABLE_CHARSETS, type LexMode, type Token } from './mysql-lexer.ts';
import { opaqueStatement, readByKeyword, tableDdlFallback, type Read, type ReadContext } from './mysql-statements.ts';
import { walk, walkStatement } from './mysql-walk.ts';
import type { Classification, Statement } from './types.ts';

export type MysqlDialect = 'mysql' | 'mariadb';

/** How the server reads text in a session: its grammar, sql_mode and the client's character set. */
export interface MysqlSyntax {
  dialect: MysqlDialect;
  /** @@SESSION.sql_mode as the server reports it */
  sqlMode: string;
  /** @@SESSION.character_set_client */
  charset: string;
}

export const DEFAULT_MYSQL_SYNTAX: MysqlSyntax = { dialect: 'mariadb', sqlMode: '', charset: 'utf8mb4' };

/** Longest text classified; longer is `unknown`. */
export const MAX_MYSQL_CLASSIFY_CHARS = 1024 * 1024;
const MAX_CACHED_CHARS = 16 * 1024;

// node-sql-parser's grammars take a few hundred ms to load: only when a MySQL text is
// first parsed, so processes that never meet one (the CLI, agents, Postgres-only
// gateways) do not pay for them.
const require = createRequire(import.meta.url);
const parsers: Partial<Record<MysqlDialect, Parser>> = {};
const PARSER_DATABASE = { mariadb: { database: 'MariaDB' }, mysql: { database: 'MySQL' } } as const;

function parserFor(dialect: MysqlDialect): Parser {
  let p = parsers[dialect];
  if (!p) {
    const build = require(`node-sql-parser/build/${dialect}.js`) as { Parser: new () => Parser };
    parsers[dialect] = p = new build.Parser();
  }
  return p;
}

interface SyntaxCache {
  /** exact text -> classification */
  byText: Lru<string, Classification>;
  /** literal shape -> classification (texts differing only in literal values, not lexed again) */
  byShape: Lru<string, Classification>;
}
const bySyntax = new Map<string, SyntaxCache>();
/** syntax + what the classification depends on -> classification: equal texts share one object */
const byKey = new Lru<string, Classification>(10_000);
/** dialect + normalized statement -> what the parser read */
const byStatement = new Lru<string, Statement>(10_000);
const syntaxKeys = new WeakMap<MysqlSyntax, string>();

function syntaxKey(s: MysqlSyntax): string {
  let k = syntaxKeys.get(s);
  if (k === undefined) syntaxKeys.set(s, (k = `${s.dialect}\u0000${s.sqlMode}\u0000${s.charset}`));
  return k;
}

/** Empty the caches (tests and benchmarks). */
export function clearMysqlClassifyCache(): void {
  bySyntax.clear();
  byKey.clear();
  byStatement.clear();
}

/**
 * The literal shape of a MySQL text, or null: Postgres' shape with MySQL's own comment
 * (`#`) and quoted names (backticks) refused too, since the shape scanner does not read them.
 */
function mysqlShape(text: string): string | null {
  return text.includes('#') || text.includes('`') ? null : literalShape(text);
}

/**
 * Classify a (possibly multi-statement) MySQL text as the server reads it in `syntax`.
 * Never throws for bad SQL. The result is shared with later callers: treat it as read-only.
 */
export function classifyMysql(text: string, syntax: MysqlSyntax = DEFAULT_MYSQL_SYNTAX): Classification {
  const cacheable = text.length <= MAX_CACHED_CHARS;
  const sk = syntaxKey(syntax);
  let cache = bySyntax.get(sk);
  if (cacheable && cache) {
    const hit = cache.byText.get(text);
    if (hit) return hit;
  }
  if (!cache) {
    if (bySyntax.size > 64) bySyntax.clear(); // syntaxes are few; a flood of odd ones must not grow this
    bySyntax.set(sk, (cache = { byText: new Lru(10_000), byShape: new Lru(10_000) }));
  }
  const shape = cacheable ? mysqlShape(text) : null;
  if (shape !== null) {
    const hit = cache.byShape.get(shape);
    if (hit) {
      cache.byText.set(text, hit);
      return hit;
    }
  }
  let c = classifyUncached(text, syntax);
  if (c.key !== '') {
    const k = `${sk}\u0001${c.key}`;
    const same = byKey.get(k);
    if (same) c = same;
    else {
      c.fingerprint = createHash('sha256').update(c.key).digest('hex').slice(0, 16);
      byKey.set(k, c);
    }
  }
  if (cacheable) cache.byText.set(text, c);
  if (shape !== null && c.key !== '') cache.byShape.set(shape, c);
  return c;
}

function classifyUncached(text: string, syntax: MysqlSyntax): Classification {
  if (text.length > MAX_MYSQL_CLASSIFY_CHARS) return unknown(`the command is longer than ${MAX_MYSQL_CLASSIFY_CHARS} characters`);
  if (UNREADABLE_CHARSETS.has(syntax.charset.toLowerCase())) {
    return unknown(`the session's character set ${syntax.charset} lets the server read the text otherwise than Warden can`);
  }
  const m = modeOf(syntax.sqlMode);
  if (m.unsupported) return unknown(`sql_mode ${m.unsupported} switches the server to a grammar Warden does not read`);
  const r = readText(text, { ansiQuotes: m.ansiQuotes, noBackslashEscapes: m.noBackslashEscapes }, syntax.dialect);
  if (r.error !== undefined) return { ...unknown(r.error), statements: r.statements.length ? [...r.statements, unknownStatement(r.error)] : [unknownStatement(r.error)] };
  return { key: r.key, fingerprint: '', statements: r.statements, hasExecute: r.statements.some(hasExecute) };
}

interface TextRead {
  statements: Statement[];
  key: string;
  error?: string;
}

/** Read the statements of `text` from mode `mode` on; `key` says everything the classification depends on. */
function readText(text: string, mode: LexMode, dialect: MysqlDialect): TextRead {
  const lexer = new MysqlLexer(text);
  const statements: Statement[] = [];
  const keys: string[] = [];
  let current: LexMode | null = mode;
  for (;;) {
    if (lexer.done) break;
    if (current === null) {
      // the mode the server reads the rest in is not known before the statements above run
      statements.push(opaqueStatement('', 'it follows a statement that may change how the server reads the text (sql_mode, character set, a procedure): it cannot be read before that statement runs'));
      keys.push(`?|${text.slice(lexer.pos)}`);
      break;
    }
    let tokens: Token[];
    try {
      const lexed = lexer.next(current);
      if (!lexed) break;
      tokens = lexed.tokens;
    } catch (e) {
      if (!(e instanceof LexError)) throw e;
      return { statements, key: '', error: `not valid SQL: ${e.message}` };
    }
    const read = readStatement(tokens, current, dialect);
    statements.push(read.stmt);
    keys.push(`${modeTag(current)}|${read.key ?? normalize(tokens)}`);
    if (read.nextMode !== undefined) current = read.nextMode;
    else if (mayChangeSyntax(read.stmt)) current = null;
  }
  return { statements, key: keys.join(';\n') };
}

const modes = new Map<string, ReturnType<typeof lexModeOf>>();
function modeOf(sqlMode: string): ReturnType<typeof lexModeOf> {
  let m = modes.get(sqlMode);
  if (!m) {
    if (modes.size > 256) modes.clear();
    modes.set(sqlMode, (m = lexModeOf(sqlMode)));
  }
  return m;
}

function modeTag(m: LexMode): string {
  return `${m.ansiQuotes ? 'A' : ''}${m.noBackslashEscapes ? 'B' : ''}`;
}

/** A statement whose effect on the reading of later text is not known from its text. */
function mayChangeSyntax(s: Statement): boolean {
  return s.kind === 'unknown' || s.kind === 'call' || s.kind === 'execute' || s.effect?.syntax === true;
}

/** What the keyword readers may ask for (one per statement read; methods, not closures). */
class Context implements ReadContext {
  constructor(
    readonly mode: LexMode,
    private readonly dialect: MysqlDialect,
  ) {}

  statementOf(t: Token[]): Read {
    return t.length === 0 ? { stmt: opaqueStatement('', 'an empty statement') } : readStatement(t, this.mode, this.dialect);
  }

  textOf(body: string): { statements: Statement[]; key: string } {
    const r = readText(body, this.mode, this.dialect);
    if (r.error !== undefined) return { statements: [...r.statements, unknownStatement(r.error)], key: `!${body}` };
    return { statements: r.statements.length ? r.statements : [opaqueStatement('', 'an empty statement')], key: r.key };
  }

  expressionInto(stmt: Statement, t: Token[], as: 'list' | 'where'): boolean {
    if (t.length === 0) return false;
    const sql = as === 'where' ? `SELECT 1 FROM dual WHERE ${normalize(t)}` : `SELECT ${normalize(t)}`;
    const ast = parse(sql, this.dialect);
    if (!ast) return false;
    walk(ast, stmt);
    return true;
  }
}

function readStatement(tokens: Token[], mode: LexMode, dialect: MysqlDialect): Read {
  const ctx = new Context(mode, dialect);
  const byKeyword = readByKeyword(tokens, ctx);
  if (byKeyword) return byKeyword;
  const sql = normalize(tokens);
  const cacheKey = `${dialect}\u0000${sql}`;
  const hit = byStatement.get(cacheKey);
  if (hit) return { stmt: hit };
  const ast = parse(sql, dialect);
  let stmt: Statement;
  if (ast) stmt = walkStatement(ast);
  else stmt = tableDdlFallback(tokens, ctx) ?? opaqueStatement(tokens[0]?.u ?? '', `Warden cannot read this ${tokens[0]?.u ?? ''} statement`.replace(/ +/g, ' '));
  byStatement.set(cacheKey, stmt);
  return { stmt };
}

/** One statement's tree, or null when the grammar cannot read it (or reads several). */
function parse(sql: string, dialect: MysqlDialect): Record<string, unknown> | null {
  try {
    const ast = parserFor(dialect).astify(sql, PARSER_DATABASE[dialect]) as unknown;
    const one = Array.isArray(ast) ? (ast.length === 1 ? ast[0] : null) : ast;
    return one && typeof one === 'object' ? (one as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function hasExecute(s: Statement): boolean {
  return s.kind === 'execute' || s.nested.some(hasExecute);
}

function unknownStatement(reason: string): Statement {
  return opaqueStatement('', reason);
}

function unknown(reason: string): Classification {
  return { key: '', fingerprint: '', error: reason, hasExecute: false, statements: [unknownStatement(reason)] };
}

/** The session syntax of a server's sql_mode with defaults for the rest. */
export function mysqlSyntax(dialect: MysqlDialect, sqlMode: string, charset = 'utf8mb4'): MysqlSyntax {
  return { dialect, sqlMode, charset };
}

export { DEFAULT_LEX_MODE };
