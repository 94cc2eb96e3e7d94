// Scopes of the lineage walk: what a FROM item, a CTE or an outer query makes visible,
// and what a column reference or a `*` may carry through them. The statement walk
// (pg-lineage-walk.ts) lends its query and expression walkers to the FROM clause here.
import type { LineageSource } from './pg-lineage.ts';

type Obj = Record<string, unknown>;

/** Past this nesting the statement is not seen through (opaque) rather than overflow the stack. */
export const MAX_DEPTH = 1000;
/**
 * Past this much work (nodes visited, sources carried by references) the statement is not
 * seen through: nested recursive CTEs are walked again each round, so a short text could
 * otherwise hold the event loop for seconds.
 */
const MAX_STEPS = 50_000;

/** Count work done for a statement; throws (the statement becomes opaque) past the budget. */
export function spend(ctx: Ctx, n = 1): void {
  if ((ctx.steps += n) > MAX_STEPS) throw new Error('too much work');
}

/** The sources a value may carry, deduplicated. */
export class Flow {
  readonly sources = new Map<string, LineageSource>();
  unknown = false;

  static unknown(): Flow {
    const f = new Flow();
    f.unknown = true;
    return f;
  }

  add(s: LineageSource): this {
    this.sources.set(`${s.schema ?? ''}\u0000${s.table}\u0000${s.column ?? '\u0001'}`, s);
    return this;
  }

  addAll(f: Flow): this {
    if (f === this) return this;
    for (const [k, s] of f.sources) this.sources.set(k, s);
    if (f.unknown) this.unknown = true;
    return this;
  }
}

/**
 * One output of a query. `?column?` as a name matches any name (Postgres' own name for an
 * output it cannot name, and ours when unsure). An expanding column stands for what a `*`
 * gives: with `item`, that item's columns by name; without, anything in `flow`.
 */
export interface Column {
  name: string;
  flow: Flow;
  expands?: boolean;
  item?: Item;
}

export interface Relation {
  columns: Column[];
}

/** What an INSERT, UPDATE or MERGE writes into its target's columns (`all`: into columns not known here). */
export interface Assigned {
  byColumn: Map<string, Flow>;
  all: Flow;
}

export interface TableItem {
  kind: 'table';
  refname: string;
  schema?: string;
  name: string;
  /** names given by an alias column list (`people p(a, b)`): which column each is, is not known here */
  renamed?: Set<string>;
  assigned?: Assigned;
}
export interface RelItem {
  kind: 'rel';
  refname: string | null;
  rel: Relation;
}
export interface JoinItem {
  kind: 'join';
  refname: string | null;
  items: Item[];
  /** USING, NATURAL or renamed columns: its `*` is not the concatenation of its sides */
  merged: boolean;
}
export type Item = TableItem | RelItem | JoinItem;

export class Scope {
  readonly items: Item[] = [];
  constructor(
    readonly parent: Scope | null,
    readonly ctes: Map<string, { rel: Relation }> | null = null,
  ) {}
}

export interface Ctx {
  refs: Flow;
  /** where references outside any output go (filters, orderings) */
  sink: Flow;
  opaque: boolean;
  assigns: boolean;
  depth: number;
  steps: number;
}

export interface Walker {
  selectOf(wrapped: unknown, outer: Scope | null, ctx: Ctx): Relation;
  expr(v: unknown, scope: Scope, ctx: Ctx, out: Flow): Flow;
}

/** What an item's column `name` may carry; null when the item certainly has no such column. */
export function columnOf(item: Item, name: string): Flow | null {
  switch (item.kind) {
    case 'table': {
      const f = new Flow();
      if (item.renamed?.has(name)) f.add(tableSource(item));
      else f.add(item.schema !== undefined ? { schema: item.schema, table: item.name, column: name } : { table: item.name, column: name });
      if (item.assigned) {
        const a = item.assigned.byColumn.get(name);
        if (a) f.addAll(a);
        f.addAll(item.assigned.all);
      }
      return f;
    }
    case 'rel': {
      let out: Flow | null = null;
      for (const c of item.rel.columns) {
        const g = c.expands ? (c.item ? columnOf(c.item, name) : c.flow) : c.name === name || c.name === '?column?' ? c.flow : null;
        if (g) (out ??= new Flow()).addAll(g);
      }
      return out;
    }
    case 'join': {
      let out: Flow | null = null;
      for (const it of item.items) {
        const g = columnOf(it, name);
        if (g) (out ??= new Flow()).addAll(g);
      }
      return out;
    }
  }
}

function tableSource(item: TableItem): LineageSource {
  return item.schema !== undefined ? { schema: item.schema, table: item.name } : { table: item.name };
}

/** Everything an item may carry (its whole row). */
export function wholeOfItem(item: Item): Flow {
  const f = new Flow();
  switch (item.kind) {
    case 'table':
      f.add(tableSource(item));
      if (item.assigned) {
        for (const a of item.assigned.byColumn.values()) f.addAll(a);
        f.addAll(item.assigned.all);
      }
      break;
    case 'rel':
      for (const c of item.rel.columns) f.addAll(c.flow);
      break;
    case 'join':
      for (const it of item.items) f.addAll(wholeOfItem(it));
      break;
  }
  return f;
}

/** The columns a `*` over the item gives. */
function starOf(item: Item): Column[] {
  if (item.kind === 'rel') return item.rel.columns;
  if (item.kind === 'join' && !item.merged) return item.items.flatMap(starOf);
  return [{ name: '?column?', flow: wholeOfItem(item), expands: true, item }];
}

/** The item a qualifier names, innermost scope first; a join with an alias hides its sides' names. */
function findItem(scope: Scope | null, refname: string, schema?: string): Item | null {
  for (let s = scope; s; s = s.parent) {
    const it = findAmong(s.items, refname, schema);
    if (it) return it;
  }
  return null;
}

function findAmong(items: Item[], refname: string, schema: string | undefined): Item | null {
  for (const it of items) {
    if (it.kind === 'join' && it.refname === null) {
      const inner = findAmong(it.items, refname, schema);
      if (inner) return inner;
    } else if (schema === undefined ? it.refname === refname : it.kind === 'table' && it.refname === it.name && it.name === refname && (it.schema === undefined || it.schema === schema)) {
      return it;
    }
  }
  return null;
}

function findCte(scope: Scope | null, name: string): { rel: Relation } | null {
  for (let s = scope; s; s = s.parent) {
    const c = s.ctes?.get(name);
    if (c) return c;
  }
  return null;
}

/**
 * An unqualified name: a column of any item of the innermost level that may have it (or
 * a whole row, when an item has that name), and of outer levels too unless one item
 * certainly has it. A name found nowhere is unknown.
 */
function unqualified(scope: Scope | null, name: string): Flow {
  const out = new Flow();
  let found = false;
  for (let s = scope; s; s = s.parent) {
    let certain = false;
    for (const it of s.items) {
      const c = columnOf(it, name);
      if (c) {
        out.addAll(c);
        found = true;
        if (it.kind === 'rel' && it.rel.columns.some((col) => !col.expands && col.name === name)) certain = true;
      }
    }
    const named = findAmong(s.items, name, undefined);
    if (named) {
      out.addAll(wholeOfItem(named));
      found = certain = true;
    }
    if (certain) break;
  }
  if (!found) out.unknown = true;
  return out;
}

function resolveNames(scope: Scope, names: string[]): Flow {
  switch (names.length) {
    case 1:
      return unqualified(scope, names[0]!);
    case 2: {
      const it = findItem(scope, names[0]!);
      // not an item: a composite column's field (`comp.f`)
      return it ? (columnOf(it, names[1]!) ?? wholeOfItem(it)) : unqualified(scope, names[0]!);
    }
    case 3: {
      const it = findItem(scope, names[1]!, names[0]!);
      return it ? (columnOf(it, names[2]!) ?? wholeOfItem(it)) : resolveNames(scope, names.slice(0, 2));
    }
    case 4:
      return resolveNames(scope, names.slice(1)); // database.schema.table.column
    default:
      return Flow.unknown();
  }
}

function namesOf(fields: Obj[]): { names: string[]; star: boolean } {
  const names: string[] = [];
  let star = false;
  for (const f of fields) {
    const s = (f.String as Obj | undefined)?.sval;
    if (typeof s === 'string') names.push(s);
    else if (f.A_Star !== undefined) star = true;
  }
  return { names, star };
}

/** Rename a relation's columns by an alias column list. */
function renamed(rel: Relation, names: string[] | undefined): Relation {
  if (!names?.length) return rel;
  let blind = false; // after a `*` of unknown width, which column a name goes to is not known
  return {
    columns: rel.columns.map((c, i) => {
      if (c.expands) {
        blind = true;
        return i < names.length ? { ...c, item: undefined } : c;
      }
      return i < names.length ? { ...c, name: blind ? '?column?' : names[i]! } : c;
    }),
  };
}

function aliasOf(b: Obj): { alias?: string; colnames?: string[] } {
  const a = b.alias as Obj | undefined;
  if (!a) return {};
  const colnames = (a.colnames as Obj[] | undefined)?.map((c) => String((c.String as Obj | undefined)?.sval ?? ''));
  return { alias: typeof a.aliasname === 'string' ? a.aliasname : undefined, colnames };
}

export function lineageScope(w: Walker) {
  /** A column reference anywhere: what it may carry, noted as a reference of the statement. */
  function columnRef(fields: Obj[], scope: Scope, ctx: Ctx): Flow {
    const { names, star } = namesOf(fields);
    let flow: Flow;
    if (!star) flow = resolveNames(scope, names);
    else if (names.length === 0) {
      flow = new Flow();
      for (const it of nearestItems(scope)) flow.addAll(wholeOfItem(it));
    } else {
      const it = findItem(scope, names[names.length - 1]!, names.length > 1 ? names[names.length - 2] : undefined);
      flow = it ? wholeOfItem(it) : resolveNames(scope, names);
    }
    spend(ctx, flow.sources.size);
    ctx.refs.addAll(flow);
    return flow;
  }

  /** A `*` or `t.*` in an output list: the columns it gives. */
  function star(fields: Obj[], scope: Scope, ctx: Ctx): Column[] {
    const { names } = namesOf(fields);
    let cols: Column[];
    if (names.length === 0) cols = nearestItems(scope).flatMap(starOf);
    else {
      const it = findItem(scope, names[names.length - 1]!, names.length > 1 ? names[names.length - 2] : undefined);
      cols = it ? starOf(it) : [{ name: '?column?', flow: resolveNames(scope, names), expands: true }];
    }
    for (const c of cols) ctx.refs.addAll(c.flow);
    return cols;
  }

  function nearestItems(scope: Scope): Item[] {
    for (let s: Scope | null = scope; s; s = s.parent) if (s.items.length) return s.items;
    return [];
  }

  /** A WITH clause: a scope in which its CTEs are visible (in each other too when RECURSIVE). */
  function withClause(wc: Obj, outer: Scope | null, ctx: Ctx): Scope {
    const s = new Scope(outer, new Map());
    const defs = ((wc.ctes as Obj[] | undefined) ?? []).map((c) => (c.CommonTableExpr ?? {}) as Obj);
    const define = (d: Obj) => renamed(w.selectOf(d.ctequery, s, ctx), (d.aliascolnames as Obj[] | undefined)?.map((c) => String((c.String as Obj | undefined)?.sval ?? '')));
    if (wc.recursive !== true) {
      for (const d of defs) s.ctes!.set(String(d.ctename), { rel: define(d) });
      return s;
    }
    // Recursive: start from nothing and recompute until no column carries more.
    for (const d of defs) s.ctes!.set(String(d.ctename), { rel: { columns: [{ name: '?column?', flow: new Flow(), expands: true }] } });
    for (let round = 0; ; round++) {
      let grew = false;
      for (const d of defs) {
        const entry = s.ctes!.get(String(d.ctename))!;
        const rel = define(d);
        if (signature(rel) !== signature(entry.rel)) grew = true;
        entry.rel = rel;
      }
      if (!grew) break;
      if (round >= 8) {
        for (const entry of s.ctes!.values()) for (const c of entry.rel.columns) c.flow.unknown = true;
        break;
      }
    }
    return s;
  }

  /** Add one FROM item to `scope`; a subquery that is not LATERAL sees `outer` only. */
  function fromItem(node: Obj, scope: Scope, outer: Scope | null, ctx: Ctx): void {
    for (const type in node) {
      const b = (node[type] ?? {}) as Obj;
      const { alias, colnames } = aliasOf(b);
      switch (type) {
        case 'RangeVar': {
          const name = String(b.relname ?? '');
          const schema = typeof b.schemaname === 'string' ? b.schemaname : undefined;
          const cte = schema === undefined ? findCte(scope, name) : null;
          if (cte) scope.items.push({ kind: 'rel', refname: alias ?? name, rel: renamed(cte.rel, colnames) });
          else scope.items.push({ kind: 'table', refname: alias ?? name, schema, name, renamed: colnames?.length ? new Set(colnames) : undefined });
          break;
        }
        case 'RangeSubselect': {
          const rel = w.selectOf(b.subquery, b.lateral === true ? scope : outer, ctx);
          scope.items.push({ kind: 'rel', refname: alias ?? null, rel: renamed(rel, colnames) });
          break;
        }
        case 'RangeTableSample':
          fromItem((b.relation ?? {}) as Obj, scope, outer, ctx);
          w.expr(b.args, scope, ctx, ctx.sink);
          w.expr(b.repeatable, scope, ctx, ctx.sink);
          break;
        case 'RangeFunction':
        case 'RangeTableFunc':
        case 'JsonTable': {
          // A function's output cannot be seen through: it may carry anything its arguments do, and more.
          const flow = Flow.unknown();
          w.expr(type === 'RangeFunction' ? b.functions : b, scope, ctx, flow);
          const fn = (((((b.functions as Obj[] | undefined)?.[0]?.List as Obj | undefined)?.items as Obj[] | undefined)?.[0]?.FuncCall as Obj | undefined)?.funcname as Obj[] | undefined) ?? [];
          const fname = (fn[fn.length - 1]?.String as Obj | undefined)?.sval;
          scope.items.push({ kind: 'rel', refname: alias ?? (typeof fname === 'string' ? fname : null), rel: { columns: [{ name: '?column?', flow, expands: true }] } });
          break;
        }
        case 'JoinExpr': {
          const mark = scope.items.length;
          fromItem((b.larg ?? {}) as Obj, scope, outer, ctx);
          fromItem((b.rarg ?? {}) as Obj, scope, outer, ctx);
          w.expr(b.quals, scope, ctx, ctx.sink);
          const items = scope.items.splice(mark);
          const merged = b.usingClause !== undefined || b.isNatural === true || (colnames?.length ?? 0) > 0;
          scope.items.push({ kind: 'join', refname: alias ?? null, items, merged });
          break;
        }
        default:
          ctx.opaque = true; // a FROM item not known here may read anything
      }
      return;
    }
  }

  return { columnRef, star, withClause, fromItem };
}

function signature(rel: Relation): string {
  return rel.columns.map((c) => `${c.flow.sources.size}${c.flow.unknown ? '?' : ''}${c.expands ? '*' : ''}`).join(',');
}
