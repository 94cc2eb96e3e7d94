// Where the values of a result's columns may come from, for masking. The target reports
// a computed column (an expression, a set operation) with table OID 0 and a view's column
// as the view's own: neither says which table column it carries. The statement's lineage
// (src/sql/pg-lineage.ts) does, by the names it uses; those names are resolved here
// through the table catalog, as the target resolves them (a view into its definition's
// columns), and given to masking as each column's `sources`.
//
// Fail closed: a table that cannot be looked up stands for "a masked column" when the
// value could be any of its columns; a statement that cannot be seen through (or whose
// text is not known) makes every computed column carry "a masked column".
import type { ColumnInfo } from '../../masking/index.ts';
import { pgValueType } from './value-types.ts';
import { lineageOfColumn, OPAQUE, pgLineage, type LineageSource, type StatementLineage } from '../../sql/pg-lineage.ts';
import type { TableCatalog, TableName, TableNames } from './catalog.ts';
import type { FieldDescription } from './messages.ts';

const UNRESOLVED: ColumnInfo = Object.freeze({ name: '', unresolved: true });
/** Views over views over ...: deeper than this is not followed (masked as unresolved). */
const MAX_VIEW_DEPTH = 8;

/**
 * Give each column of a result that may carry another column's value its `sources`.
 * Returns a promise when tables must be looked up first (the result waits, then this runs
 * again), else whether any column was considered (a result whose plan depends on its
 * statement, not on its RowDescription alone). `final`: no more waiting, what is not
 * known yet counts as unresolved.
 */
export function attachSources(
  infos: ColumnInfo[],
  fields: readonly FieldDescription[],
  stmt: StatementLineage | null,
  catalog: TableCatalog | null,
  now: number,
  final = false,
  /** the session's search path, for the statement's unqualified names (views' definitions are read in the catalog's own) */
  searchPath: readonly string[] | null = null,
): Promise<void> | boolean {
  const r = new SourceResolver(catalog, now, final, searchPath);
  const n = fields.length;
  let considered = false;
  for (let i = 0; i < n; i++) {
    const f = fields[i]!;
    const t = f.tableOid === 0 ? undefined : catalog?.get(f.tableOid, now);
    // Most columns are a table's own, read as they are: nothing to attach.
    if (f.tableOid !== 0 && f.column !== 0 && !stmt?.assigns && !(t && isView(t))) continue;
    const out: ColumnInfo[] = [];
    if (f.tableOid === 0) {
      considered = true;
      if (!stmt || stmt.opaque) out.push(UNRESOLVED);
      else r.output(stmt, i, n, out);
    } else {
      if (f.column === 0) {
        // A whole row (`SELECT p FROM people p`): the target names the table, attribute 0.
        considered = true;
        if (t) r.wholeRow(t, out, 0);
        else out.push(UNRESOLVED);
      } else if (t && isView(t)) {
        considered = true;
        r.viewColumns(t, [f.column], out, 0);
      }
      // INSERT ... RETURNING x: the target's own column, carrying what was written to it.
      if (stmt?.assigns) {
        considered = true;
        if (stmt.opaque) out.push(UNRESOLVED);
        else r.output(stmt, i, n, out);
      }
    }
    if (out.length) infos[i]!.sources = out;
  }
  return r.lookups() ?? considered;
}

/**
 * The lineage of statement `index` of a command's text; null when the text is not known.
 * `untrusted`: the server may read the text otherwise than the parser (backslashes in
 * strings with standard_conforming_strings off): opaque, and it may have written what it returns.
 */
export function statementLineage(text: string | undefined, index: number, untrusted = false): StatementLineage | null {
  if (!text) return null;
  if (untrusted && text.includes('\\')) return UNTRUSTED;
  return pgLineage(text)[index] ?? null;
}

const UNTRUSTED: StatementLineage = Object.freeze({ ...OPAQUE, assigns: true });

/**
 * Statement `index` of the text may return what it wrote (INSERT, UPDATE, MERGE ...
 * RETURNING, maybe inside a WITH): its lineage, else null. No statement returns what it
 * wrote without the word RETURNING, so a plain SELECT costs one scan of its text.
 */
export function writesReturned(text: string | undefined, index: number, untrusted = false): StatementLineage | null {
  if (!text || !RETURNING.test(text)) return null;
  const l = statementLineage(text, index, untrusted);
  return l?.assigns ? l : null;
}

const RETURNING = /returning/i;

function isView(t: TableNames): boolean {
  return t.kind === 'v' || t.kind === 'm';
}

class SourceResolver {
  /** a table's columns as sources, made once per result */
  private rows: Map<TableNames, ColumnInfo[]> | null = null;

  constructor(
    private readonly catalog: TableCatalog | null,
    private readonly now: number,
    private readonly final: boolean,
    private readonly searchPath: readonly string[] | null,
  ) {}

  /** What result column i of n carries by the statement's lineage; unknown: any column it references. */
  output(stmt: StatementLineage, i: number, n: number, out: ColumnInfo[], depth = 0): void {
    const o = lineageOfColumn(stmt, i, n);
    for (const s of o.sources) this.source(s, out, depth);
    if (o.unknown) for (const s of stmt.references) this.source(s, out, depth);
  }

  /** One source by name: a table's column, a whole row, or what a view's column carries. */
  private source(s: LineageSource, out: ColumnInfo[], depth: number): void {
    const t = this.table(s, depth === 0 ? this.searchPath : null);
    if (t === undefined) return; // being looked up
    if (t === null) {
      // No table the lookup can name so (a temporary one, the lookup failed): what it holds is not known.
      out.push(UNRESOLVED);
      return;
    }
    if (s.column === undefined) {
      this.wholeRow(t, out, depth);
      return;
    }
    if (isView(t)) {
      this.viewColumns(t, [...t.columns].filter(([, name]) => name === s.column).map(([a]) => a), out, depth);
      return;
    }
    // A candidate the table does not have (an unqualified name, several FROM items) is no source.
    for (const [attnum, name] of t.columns) if (name === s.column) out.push(info(t, attnum));
  }

  /** Every column of a table (of a view: what each carries). */
  wholeRow(t: TableNames, out: ColumnInfo[], depth: number): void {
    if (isView(t)) this.viewColumns(t, [...t.columns.keys()], out, depth);
    else out.push(...this.rowOf(t));
  }

  /** What the given columns of a view carry: its definition's lineage, resolved in turn. */
  viewColumns(t: TableNames, attnums: number[], out: ColumnInfo[], depth: number): void {
    const def = t.definition !== undefined && depth < MAX_VIEW_DEPTH ? pgLineage(t.definition)[0] : undefined;
    if (!def || def.opaque) {
      out.push(UNRESOLVED);
      return;
    }
    // A view's columns are its query's outputs in order (pg_get_viewdef spells out every `*`).
    const order = [...t.columns.keys()].sort((a, b) => a - b);
    for (const attnum of attnums) {
      const i = order.indexOf(attnum);
      if (i < 0) out.push(UNRESOLVED);
      else this.output(def, i, order.length, out, depth + 1);
    }
  }

  /** The table a source names: undefined while it is looked up, null when there is none (or the lookup failed). */
  private table(s: LineageSource, path: readonly string[] | null): TableNames | null | undefined {
    const c = this.catalog;
    if (!c) return null;
    const name = s.schema !== undefined ? { schema: s.schema, name: s.table } : { name: s.table };
    const oid = c.oidOf(name, this.now, path);
    if (oid === undefined) return this.final ? null : ((path ? this.pathNames : this.names).push(name), undefined);
    if (oid === null) return null;
    const t = c.get(oid, this.now);
    if (t === undefined) return this.final ? null : (this.oids.push(oid), undefined);
    return t;
  }

  private readonly names: TableName[] = [];
  /** names read in the session's search path */
  private readonly pathNames: TableName[] = [];
  private readonly oids: number[] = [];

  /** The lookups this result waits for (one per kind, however many tables), or null when none. */
  lookups(): Promise<void> | null {
    const c = this.catalog;
    if (!c || (!this.names.length && !this.pathNames.length && !this.oids.length)) return null;
    return Promise.all([
      this.names.length ? c.loadByNames(this.names) : undefined,
      this.pathNames.length ? c.loadByNames(this.pathNames, this.searchPath) : undefined,
      this.oids.length ? c.load([...new Set(this.oids)]) : undefined,
    ]).then(() => undefined);
  }

  private rowOf(t: TableNames): ColumnInfo[] {
    const rows = (this.rows ??= new Map());
    let row = rows.get(t);
    if (!row) rows.set(t, (row = [...t.columns.keys()].map((attnum) => info(t, attnum))));
    return row;
  }
}

function info(t: TableNames, attnum: number): ColumnInfo {
  const column = t.columns.get(attnum)!;
  return { name: column, column, table: t.table, schema: t.schema, value: pgValueType(t.types.get(attnum)) };
}
