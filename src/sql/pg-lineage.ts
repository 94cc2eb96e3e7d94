// Column lineage of Postgres statements, on the real parser (libpg-query): for each column
// a statement returns, the table columns whose values it may carry. Masking uses it so
// that a value computed from a masked column (`ssn || ''`, `upper(email)`, `md5(password)`,
// `row_to_json(p)`) is masked as that column: the target reports such a column as computed
// (table OID 0) and says nothing of where it comes from.
//
// Conservative by construction: an unqualified name with several FROM items is any of
// them; a set operation's column is every branch's; what cannot be seen through (a
// function in FROM) is `unknown`, and a statement whose meaning is elsewhere (FETCH,
// EXECUTE, dynamic SQL) is `opaque`. Lineage follows values, not filters: WHERE, ORDER BY,
// GROUP BY, window and FILTER clauses add references, not sources; so do count() and
// IS [NOT] NULL, which tell only whether a value is there.
//
// Cached by exact text, then by literal shape (lineage never reads a literal's value), as
// classifyPostgres does.
import * as pg from 'libpg-query';
import { Lru } from './lru.ts';
import { literalShape, MAX_CLASSIFY_CHARS } from './postgres.ts';
import { lineageOfStatement } from './pg-lineage-walk.ts';

/** A table column a value may carry, or (no `column`) a whole row of the table. */
export interface LineageSource {
  /** only when the statement qualified the table */
  schema?: string;
  /** the table as named in FROM (its alias resolved; never a CTE or subquery name) */
  table: string;
  /** absent: the whole row (`SELECT p`, `row_to_json(p)`, `p.*` inside an expression) */
  column?: string;
}

export interface OutputLineage {
  /** the table columns (and whole rows) this output may carry */
  sources: LineageSource[];
  /** some of it could not be seen through (a function in FROM): it may carry any column the statement references */
  unknown: boolean;
  /** a `*`, `t.*` or `(x).*` whose width is not known here: any number of result columns (none included) */
  expands: boolean;
}

export interface StatementLineage {
  /** one entry per item of the output list, in order */
  outputs: OutputLineage[];
  /** every output is exactly one result column */
  exact: boolean;
  /** cannot be seen through at all (FETCH, EXECUTE, CALL, dynamic SQL, not parsed): any result column may carry anything */
  opaque: boolean;
  /**
   * An INSERT, UPDATE or MERGE with RETURNING (maybe inside a WITH): a column it returns
   * is reported as the target table's own column, yet carries whatever the statement
   * assigned to it (`INSERT INTO t SELECT ssn FROM people RETURNING x`).
   */
  assigns: boolean;
  /** every column and whole-row reference anywhere in the statement */
  references: LineageSource[];
}

export const OPAQUE: StatementLineage = Object.freeze({ outputs: [], exact: false, opaque: true, assigns: false, references: [] });

const MAX_CACHED_CHARS = 16 * 1024;
const byText = new Lru<string, readonly StatementLineage[]>(5_000);
const byShape = new Lru<string, readonly StatementLineage[]>(5_000);

/**
 * The lineage of each statement of a (possibly multi-statement) text, in order. Never
 * throws: a text that does not parse (or a parser not loaded) is one opaque statement.
 * Shared with later callers: read-only.
 */
export function pgLineage(text: string): readonly StatementLineage[] {
  const cacheable = text.length <= MAX_CACHED_CHARS;
  if (cacheable) {
    const hit = byText.get(text);
    if (hit) return hit;
  }
  if (text.length > MAX_CLASSIFY_CHARS) return [OPAQUE];
  const shape = literalShape(text);
  if (shape !== null) {
    const hit = byShape.get(shape);
    if (hit) {
      if (cacheable) byText.set(text, hit);
      return hit;
    }
  }
  const out = parseLineage(text);
  if (cacheable) byText.set(text, out);
  if (shape !== null) byShape.set(shape, out);
  return out;
}

function parseLineage(text: string): readonly StatementLineage[] {
  let tree: { stmts?: { stmt?: Record<string, unknown> }[] };
  try {
    tree = pg.parseSync(text) as typeof tree;
  } catch {
    return [OPAQUE];
  }
  const out: StatementLineage[] = [];
  for (const raw of tree.stmts ?? []) {
    const stmt = raw.stmt;
    if (!stmt) continue;
    for (const type in stmt) out.push(lineageOfStatement(type, stmt[type] as Record<string, unknown>));
  }
  return out;
}

/** Empty the caches (tests). */
export function clearLineageCache(): void {
  byText.clear();
  byShape.clear();
}

/**
 * The lineage of result column `i` of `n`. Outputs before the first expanding one map
 * from the start, those after the last one from the end; a column in between may be any
 * of the outputs in that stretch. A count that cannot fit makes every column unknown.
 */
export function lineageOfColumn(l: StatementLineage, i: number, n: number): OutputLineage {
  const outs = l.outputs;
  if (l.exact) return outs.length === n ? outs[i]! : UNKNOWN_OUTPUT;
  let first = -1;
  let last = -1;
  for (let k = 0; k < outs.length; k++) {
    if (!outs[k]!.expands) continue;
    if (first < 0) first = k;
    last = k;
  }
  const after = outs.length - 1 - last; // outputs after the last expanding one
  if (first < 0 || first + after > n) return UNKNOWN_OUTPUT;
  if (i < first) return outs[i]!;
  if (i >= n - after) return outs[outs.length - (n - i)]!;
  const sources: LineageSource[] = [];
  let unknown = false;
  for (let k = first; k <= last; k++) {
    sources.push(...outs[k]!.sources);
    if (outs[k]!.unknown) unknown = true;
  }
  return { sources, unknown, expands: true };
}

const UNKNOWN_OUTPUT: OutputLineage = Object.freeze({ sources: [], unknown: true, expands: false });
