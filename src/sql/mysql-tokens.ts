// Small readers of MySQL token lists, shared by the statements Warden reads from tokens
// (mysql-statements.ts, mysql-ddl.ts): names, keywords, depth-0 searches and splits.
import type { Token } from './mysql-lexer.ts';
import { addTable, markOpaque, newStatement } from './mysql-walk.ts';
import type { Category, Statement, StatementKind } from './types.ts';

export const isName = (t: Token | undefined): t is Token => t !== undefined && (t.kind === 'word' || t.kind === 'ident');
export const isOp = (t: Token | undefined, v: string) => t !== undefined && t.kind === 'op' && t.v === v;
export const isWord = (t: Token | undefined, ...words: string[]) => t !== undefined && t.kind === 'word' && words.includes(t.u);

/** A possibly qualified name at `i`: `db.t`, `t`, `` `d`.`t` `` */
export function qname(tokens: Token[], i: number): { name: string; schema?: string; next: number } | null {
  const a = tokens[i];
  if (!isName(a)) return null;
  if (isOp(tokens[i + 1], '.') && (isName(tokens[i + 2]) || isOp(tokens[i + 2], '*'))) return { schema: a.v, name: tokens[i + 2]!.v, next: i + 3 };
  return { name: a.v, next: i + 1 };
}

/** Index of the first token at depth 0 from `from` matching `test`, or -1. */
export function findTop(tokens: Token[], from: number, test: (t: Token) => boolean): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isOp(t, '(')) depth++;
    else if (isOp(t, ')')) depth--;
    else if (depth === 0 && test(t)) return i;
  }
  return -1;
}

/** Split tokens [from, to) at top-level commas. */
export function splitTop(tokens: Token[], from: number, to = tokens.length): Token[][] {
  const out: Token[][] = [];
  let depth = 0;
  let start = from;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (isOp(t, '(')) depth++;
    else if (isOp(t, ')')) depth--;
    else if (depth === 0 && isOp(t, ',')) {
      out.push(tokens.slice(start, i));
      start = i + 1;
    }
  }
  out.push(tokens.slice(start, to));
  return out;
}

export const has = (tokens: Token[], word: string, from = 0) => tokens.some((t, i) => i >= from && t.kind === 'word' && t.u === word);

export function make(kind: StatementKind, category: Category, node: string): Statement {
  return newStatement(kind, category, node);
}

/** Names after `from`, separated by commas (DROP TABLE a, b.c; LOCK TABLES ...), up to a word in `stop`. */
export function nameList(stmt: Statement, tokens: Token[], from: number, stop: string[] = []): void {
  let i = from;
  while (i < tokens.length) {
    if (isWord(tokens[i], ...stop)) return;
    const q = qname(tokens, i);
    if (!q) return;
    addTable(stmt, q.name, q.schema);
    i = q.next;
    // skip to the next comma at depth 0 (LOCK TABLES t AS a READ, u WRITE)
    const comma = findTop(tokens, i, (t) => isOp(t, ','));
    if (comma < 0) return;
    i = comma + 1;
  }
}

/** Read a statement by its leading keywords; null: leave it to the parser. */

/** A statement Warden cannot see through, with the reason. */
export function opaqueStatement(node: string, reason: string): Statement {
  const s = make('unknown', 'unknown', node);
  markOpaque(s, reason);
  return s;
}
