// The walk behind pg-lineage.ts: scopes (FROM items, CTEs, outer queries) over
// libpg-query's JSON tree, and what each expression may carry. Conservative wherever
// Postgres would need the catalog to decide (which FROM item an unqualified name is in).
import { runsDynamicSql } from './dynamic-functions.ts';
import { Flow, lineageScope, MAX_DEPTH, Scope, spend, type Assigned, type Column, type Ctx, type Relation, type TableItem } from './pg-lineage-scope.ts';
import type { StatementLineage } from './pg-lineage.ts';

type Obj = Record<string, unknown>;

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
/** Statements that return rows holding no table data (a plan, a setting). */
const NO_DATA = new Set(['ExplainStmt', 'VariableShowStmt']);

export function lineageOfStatement(node: string, body: Obj): StatementLineage {
  if (NO_DATA.has(node)) return { outputs: [], exact: false, opaque: false, assigns: false, references: [] };
  if (node !== 'SelectStmt' && !DML.has(node)) return opaque();
  const ctx: Ctx = { refs: new Flow(), sink: new Flow(), opaque: false, assigns: false, depth: 0, steps: 0 };
  let rel: Relation;
  try {
    rel = node === 'SelectStmt' ? selectRel(body, null, ctx) : dmlRel(node, body, null, ctx);
  } catch {
    return opaque(); // deeper than MAX_DEPTH or more work than MAX_STEPS: not seen through
  }
  return {
    outputs: rel.columns.map((c) => ({ sources: [...c.flow.sources.values()], unknown: c.flow.unknown, expands: c.expands === true })),
    exact: rel.columns.every((c) => !c.expands),
    opaque: ctx.opaque,
    assigns: ctx.assigns,
    references: [...ctx.refs.sources.values()],
  };
}

function opaque(): StatementLineage {
  return { outputs: [], exact: false, opaque: true, assigns: false, references: [] };
}

const walk = lineageScope({ selectOf, expr });
/** A query level (scopes, outputs, unions of what they carry) weighs as much as this many nodes. */
const QUERY_STEPS = 20;

/** A query node as found in a CTE, a subquery or a sublink (`{ SelectStmt: {...} }`). */
function selectOf(wrapped: unknown, outer: Scope | null, ctx: Ctx): Relation {
  const w = (wrapped ?? {}) as Obj;
  for (const type in w) {
    if (type === 'SelectStmt') return selectRel(w[type] as Obj, outer, ctx);
    if (DML.has(type)) return dmlRel(type, w[type] as Obj, outer, ctx);
  }
  ctx.opaque = true;
  return { columns: [{ name: '?column?', flow: Flow.unknown(), expands: true }] };
}

function selectRel(body: Obj, outer: Scope | null, ctx: Ctx): Relation {
  spend(ctx, QUERY_STEPS);
  if (++ctx.depth > MAX_DEPTH) throw new Error('too deep');
  try {
    const withScope = body.withClause ? walk.withClause(body.withClause as Obj, outer, ctx) : outer;
    if (typeof body.op === 'string' && body.op !== 'SETOP_NONE') {
      const l = selectRel(body.larg as Obj, withScope, ctx);
      const r = selectRel(body.rarg as Obj, withScope, ctx);
      return combine(l, r);
    }
    const scope = new Scope(withScope);
    if (Array.isArray(body.valuesLists)) return values(body.valuesLists as Obj[], scope, ctx);
    for (const f of (body.fromClause as unknown[] | undefined) ?? []) walk.fromItem(f as Obj, scope, withScope, ctx);
    // What filters, groups and orders rows: references, not sources.
    for (const k of ['whereClause', 'groupClause', 'havingClause', 'windowClause', 'sortClause', 'distinctClause', 'limitOffset', 'limitCount']) {
      expr(body[k], scope, ctx, ctx.sink);
    }
    return { columns: targets(body.targetList as Obj[] | undefined, scope, ctx) };
  } finally {
    ctx.depth--;
  }
}

/** A set operation: column i is every branch's column i; a branch of unknown width adds its all. */
function combine(l: Relation, r: Relation): Relation {
  const lExact = l.columns.every((c) => !c.expands);
  const rExact = r.columns.every((c) => !c.expands);
  if (lExact && rExact && l.columns.length === r.columns.length) {
    return { columns: l.columns.map((c, i) => ({ name: c.name, flow: new Flow().addAll(c.flow).addAll(r.columns[i]!.flow) })) };
  }
  if (lExact || rExact) {
    const [exact, other] = lExact ? [l, r] : [r, l];
    const all = wholeOf(other);
    return { columns: exact.columns.map((c, i) => ({ name: lExact ? c.name : (l.columns[i]?.name ?? '?column?'), flow: new Flow().addAll(c.flow).addAll(all) })) };
  }
  return { columns: [{ name: '?column?', flow: new Flow().addAll(wholeOf(l)).addAll(wholeOf(r)), expands: true }] };
}

function wholeOf(rel: Relation): Flow {
  const f = new Flow();
  for (const c of rel.columns) f.addAll(c.flow);
  return f;
}

function values(rows: Obj[], scope: Scope, ctx: Ctx): Relation {
  const columns: Column[] = [];
  for (const row of rows) {
    const items = ((row.List as Obj | undefined)?.items as unknown[] | undefined) ?? [];
    items.forEach((item, i) => {
      const c = (columns[i] ??= { name: `column${i + 1}`, flow: new Flow() });
      expr(item, scope, ctx, c.flow);
    });
  }
  return { columns };
}

/** The output list: one column per item, or what a `*` stands for. */
function targets(list: Obj[] | undefined, scope: Scope, ctx: Ctx): Column[] {
  const out: Column[] = [];
  for (const t of list ?? []) {
    const res = (t.ResTarget ?? {}) as Obj;
    const val = res.val as Obj | undefined;
    const ref = val?.ColumnRef as Obj | undefined;
    const fields = ref?.fields as Obj[] | undefined;
    if (fields && fields.length > 0 && fields[fields.length - 1]!.A_Star !== undefined) {
      const cols = walk.star(fields, scope, ctx);
      out.push(...cols);
      continue;
    }
    const ind = val?.A_Indirection as Obj | undefined;
    const path = ind?.indirection as Obj[] | undefined;
    const flow = new Flow();
    expr(val, scope, ctx, flow);
    if (path && path.length > 0 && path[path.length - 1]!.A_Star !== undefined) out.push({ name: '?column?', flow, expands: true });
    else out.push({ name: typeof res.name === 'string' ? res.name : figureName(val), flow });
  }
  return out;
}

/** An INSERT, UPDATE, DELETE or MERGE: what its RETURNING list carries. */
function dmlRel(node: string, body: Obj, outer: Scope | null, ctx: Ctx): Relation {
  spend(ctx, QUERY_STEPS);
  if (++ctx.depth > MAX_DEPTH) throw new Error('too deep');
  try {
    const withScope = body.withClause ? walk.withClause(body.withClause as Obj, outer, ctx) : outer;
    const scope = new Scope(withScope);
    const rv = (body.relation ?? {}) as Obj;
    const assigned: Assigned = { byColumn: new Map(), all: new Flow() };
    const schema = typeof rv.schemaname === 'string' ? rv.schemaname : undefined;
    const name = String(rv.relname ?? '');
    const alias = (rv.alias as Obj | undefined)?.aliasname;
    const target = (refname: string): TableItem => ({ kind: 'table', refname, schema, name, assigned });
    scope.items.push(target(typeof alias === 'string' ? alias : name));
    const assign = (col: unknown, flow: Flow) => {
      const c = String(col ?? '');
      let f = assigned.byColumn.get(c);
      if (!f) assigned.byColumn.set(c, (f = new Flow()));
      f.addAll(flow);
    };
    const sets = (list: unknown) => {
      for (const t of (list as Obj[] | undefined) ?? []) {
        const res = (t.ResTarget ?? {}) as Obj;
        const f = new Flow();
        expr(res.val, scope, ctx, f);
        expr(res.indirection, scope, ctx, ctx.sink);
        assign(res.name, f);
      }
    };
    /** Values for a column list (or, without one, for columns in an order not known here). */
    const inserts = (cols: Obj[] | undefined, rel: Relation) => {
      const exact = rel.columns.every((c) => !c.expands);
      if (!cols?.length) assigned.all.addAll(wholeOf(rel));
      else cols.forEach((c, i) => assign((c.ResTarget as Obj | undefined)?.name, exact && rel.columns.length === cols.length ? rel.columns[i]!.flow : wholeOf(rel)));
    };
    switch (node) {
      case 'InsertStmt': {
        // The SELECT or VALUES of an INSERT cannot see the target table.
        if (body.selectStmt) inserts(body.cols as Obj[] | undefined, selectOf(body.selectStmt, withScope, ctx));
        const conflict = body.onConflictClause as Obj | undefined;
        if (conflict) {
          scope.items.push(target('excluded'));
          sets(conflict.targetList);
          expr(conflict.whereClause, scope, ctx, ctx.sink);
          expr(conflict.infer, scope, ctx, ctx.sink);
        }
        break;
      }
      case 'UpdateStmt':
        for (const f of (body.fromClause as unknown[] | undefined) ?? []) walk.fromItem(f as Obj, scope, withScope, ctx);
        sets(body.targetList);
        break;
      case 'DeleteStmt':
        for (const f of (body.usingClause as unknown[] | undefined) ?? []) walk.fromItem(f as Obj, scope, withScope, ctx);
        break;
      case 'MergeStmt': {
        if (body.sourceRelation) walk.fromItem(body.sourceRelation as Obj, scope, withScope, ctx);
        expr(body.joinCondition, scope, ctx, ctx.sink);
        for (const w of (body.mergeWhenClauses as Obj[] | undefined) ?? []) {
          const when = (w.MergeWhenClause ?? {}) as Obj;
          expr(when.condition, scope, ctx, ctx.sink);
          if (when.commandType === 'CMD_UPDATE') sets(when.targetList);
          else if (when.commandType === 'CMD_INSERT') {
            const vals = (when.values as unknown[] | undefined) ?? [];
            inserts(when.targetList as Obj[] | undefined, { columns: vals.map((v) => ({ name: '?column?', flow: expr(v, scope, ctx, new Flow()) })) });
          }
        }
        break;
      }
    }
    expr(body.whereClause, scope, ctx, ctx.sink);
    const returning = ((body.returningClause as Obj | undefined)?.exprs ?? body.returningList) as Obj[] | undefined;
    if (!returning?.length) return { columns: [] };
    // RETURNING old.x / new.x (and their renamings) name the target too.
    const names = new Set(['old', 'new']);
    for (const o of ((body.returningClause as Obj | undefined)?.options as Obj[] | undefined) ?? []) {
      const v = (o.ReturningOption as Obj | undefined)?.value;
      if (typeof v === 'string') names.add(v);
    }
    for (const n of names) scope.items.push(target(n));
    if (node !== 'DeleteStmt') ctx.assigns = true;
    return { columns: targets(returning, scope, ctx) };
  } finally {
    ctx.depth--;
  }
}

/** Count and IS [NOT] NULL see only whether a value is there. */
const PRESENCE_ONLY = new Set(['count']);

/**
 * Add to `out` what expression `v` may carry; every column it references goes to the
 * statement's references as well. Returns `out`.
 */
function expr(v: unknown, scope: Scope, ctx: Ctx, out: Flow): Flow {
  if (Array.isArray(v)) {
    for (const x of v) expr(x, scope, ctx, out);
    return out;
  }
  if (v === null || typeof v !== 'object') return out;
  const o = v as Obj;
  spend(ctx);
  if (++ctx.depth > MAX_DEPTH) throw new Error('too deep');
  try {
    if (o.ColumnRef) out.addAll(walk.columnRef(((o.ColumnRef as Obj).fields as Obj[] | undefined) ?? [], scope, ctx));
    else if (o.SubLink) {
      const s = o.SubLink as Obj;
      out.addAll(wholeOf(selectOf(s.subselect, scope, ctx)));
      expr(s.testexpr, scope, ctx, out);
    } else if (o.FuncCall) {
      const f = o.FuncCall as Obj;
      const parts = ((f.funcname as Obj[] | undefined) ?? []).map((p) => String((p.String as Obj | undefined)?.sval ?? ''));
      const name = parts[parts.length - 1] ?? '';
      if (runsDynamicSql(name)) ctx.opaque = true; // the SQL it runs is a string: nothing here can be seen
      expr(f.args, scope, ctx, PRESENCE_ONLY.has(name) && parts.length <= 2 && (parts.length === 1 || parts[0] === 'pg_catalog') ? ctx.sink : out);
      expr(f.agg_order, scope, ctx, ctx.sink);
      expr(f.agg_filter, scope, ctx, ctx.sink);
      expr(f.over, scope, ctx, ctx.sink);
    } else if (o.NullTest) expr((o.NullTest as Obj).arg, scope, ctx, ctx.sink);
    else if (o.A_Indirection) indirection(o.A_Indirection as Obj, scope, ctx, out);
    else for (const k in o) expr(o[k], scope, ctx, out);
    return out;
  } finally {
    ctx.depth--;
  }
}

/** `(p).ssn` is p's column ssn, as `p.ssn` is; any other indirection carries its whole argument. */
function indirection(ind: Obj, scope: Scope, ctx: Ctx, out: Flow): void {
  const path = (ind.indirection as Obj[] | undefined) ?? [];
  const fields = ((ind.arg as Obj | undefined)?.ColumnRef as Obj | undefined)?.fields as Obj[] | undefined;
  const field = (path[0]?.String as Obj | undefined)?.sval;
  if (fields && typeof field === 'string' && fields.every((f) => f.String !== undefined)) {
    out.addAll(walk.columnRef([...fields, path[0]!], scope, ctx));
    expr(path.slice(1), scope, ctx, out);
    return;
  }
  expr(ind.arg, scope, ctx, out);
  expr(path, scope, ctx, out);
}

/** The name Postgres gives an output without an alias (FigureColname); `?column?` when unsure (it matches any name). */
export function figureName(v: unknown): string {
  const o = (v ?? {}) as Obj;
  const body = (k: string) => o[k] as Obj;
  if (o.ColumnRef) {
    const fields = (body('ColumnRef').fields as Obj[] | undefined) ?? [];
    const s = (fields[fields.length - 1]?.String as Obj | undefined)?.sval;
    return typeof s === 'string' ? s : '?column?';
  }
  if (o.A_Indirection) {
    const path = (body('A_Indirection').indirection as Obj[] | undefined) ?? [];
    for (let i = path.length - 1; i >= 0; i--) {
      const s = (path[i]!.String as Obj | undefined)?.sval;
      if (typeof s === 'string') return s;
    }
    return figureName(body('A_Indirection').arg);
  }
  if (o.FuncCall) {
    const parts = (body('FuncCall').funcname as Obj[] | undefined) ?? [];
    const s = (parts[parts.length - 1]?.String as Obj | undefined)?.sval;
    return typeof s === 'string' ? s : '?column?';
  }
  if (o.TypeCast) {
    const inner = figureName(body('TypeCast').arg);
    if (inner !== '?column?') return inner;
    const names = ((body('TypeCast').typeName as Obj | undefined)?.names as Obj[] | undefined) ?? [];
    const s = (names[names.length - 1]?.String as Obj | undefined)?.sval;
    return typeof s === 'string' ? s : '?column?';
  }
  if (o.CollateClause) return figureName(body('CollateClause').arg);
  if (o.CaseExpr) return 'case';
  if (o.CoalesceExpr) return 'coalesce';
  if (o.A_ArrayExpr) return 'array';
  if (o.RowExpr) return 'row';
  if (o.SubLink) {
    const type = body('SubLink').subLinkType;
    if (type === 'EXISTS_SUBLINK') return 'exists';
    if (type === 'ARRAY_SUBLINK') return 'array';
  }
  return '?column?';
}
