// What the MySQL relay needs to know of a command's text beyond its judgment: whether
// running it may change the session state the gateway reads back, whether it is (or may
// hide) a KILL, which files a LOAD DATA LOCAL names, and whether it can be judged without
// reading the state back first.
import type { Command } from '../../session/types.ts';
import { classifyMysql } from '../../sql/mysql.ts';
import { lexModeOf, MysqlLexer } from '../../sql/mysql-lexer.ts';
import { mysqlFunctionFacts } from '../../sql/mysql-functions.ts';
import { flattenStatements, type Classification } from '../../sql/types.ts';

type Syntax = NonNullable<Command['syntax']>;

interface TextFacts {
  /** running it may change what the gateway reads back (database, sql_mode, character set) */
  changesState: boolean;
  kill: boolean;
  unknown: boolean;
}
const textFacts = new WeakMap<Classification, TextFacts>();

/** What the relay needs to know of a classification, worked out once (classifications are cached and shared). */
function factsOf(c: Classification): TextFacts {
  let f = textFacts.get(c);
  if (!f) {
    const all = flattenStatements(c.statements);
    f = {
      // anything it cannot see through may, and so may a function defined in the database
      changesState: all.some((s) => s.opaque || s.effect?.searchPath || s.effect?.syntax || s.kind === 'call' || s.kind === 'execute' || s.kind === 'unknown' || s.functions.some((x) => !mysqlFunctionFacts.isBuiltin(x))),
      kill: all.some((s) => s.node === 'KILL'),
      unknown: all.some((s) => s.kind === 'unknown'),
    };
    textFacts.set(c, f);
  }
  return f;
}

export function changesState(c: Classification): boolean {
  return factsOf(c).changesState;
}

/**
 * A statement read the same whatever the session's database, sql_mode and character set:
 * ASCII with no double quote or backslash (the only characters those modes read otherwise),
 * one SELECT or SHOW of no table, with built-in functions only (SHOW WARNINGS, SELECT
 * ROW_COUNT(), SELECT @@warning_count).
 */
export function readsNoSessionState(text: string, syntax: Syntax): boolean {
  if (!/^[\x20-\x21\x23-\x5b\x5d-\x7e\t\r\n]*$/.test(text)) return false;
  const c = classifyMysql(text, syntax);
  if (c.statements.length !== 1) return false;
  const s = c.statements[0]!;
  return (s.kind === 'select' || s.kind === 'show') && !s.opaque && s.nested.length === 0 && s.tables.length === 0 && s.functions.every((f) => mysqlFunctionFacts.isBuiltin(f));
}

/** A KILL the gateway can see, or the word KILL in a part of the text it cannot read. */
export function mentionsKill(c: Classification, text: string): boolean {
  const f = factsOf(c);
  return f.kill || (f.unknown && /kill/i.test(text));
}

/** The file names of LOAD DATA LOCAL INFILE statements in a text. */
export function localInfileNames(text: string, syntax: Syntax | null): string[] {
  const mode = lexModeOf(syntax?.sqlMode ?? '');
  const lexer = new MysqlLexer(text);
  const names: string[] = [];
  try {
    for (;;) {
      if (lexer.done) break;
      const s = lexer.next(mode);
      if (!s) break;
      s.tokens.forEach((t, i) => {
        if (t.u === 'INFILE' && s.tokens[i + 1]?.kind === 'string') names.push(s.tokens[i + 1]!.v);
      });
    }
  } catch {
    return [];
  }
  return names;
}

/** `KILL [HARD|SOFT] [CONNECTION|QUERY] <number>`, or null for any other KILL (by query id, of a user, of an expression). */
export function parseKill(text: string, sqlMode: string): { what: 'QUERY' | 'CONNECTION'; id: number } | null {
  let tokens;
  try {
    tokens = new MysqlLexer(text).next(lexModeOf(sqlMode))?.tokens ?? [];
  } catch {
    return null;
  }
  const words = tokens.map((t) => t.u);
  let i = 1;
  if (words[i] === 'HARD' || words[i] === 'SOFT') i++;
  const what = words[i] === 'QUERY' ? 'QUERY' : 'CONNECTION';
  if (words[i] === 'QUERY' || words[i] === 'CONNECTION') i++;
  const id = tokens[i];
  if (!id || id.kind !== 'number' || !/^\d+$/.test(id.v) || i !== tokens.length - 1) return null;
  return { what, id: Number(id.v) };
}
