// Turns one parsed Postgres statement (libpg-query's JSON tree) into a Statement. The
// WHOLE tree is walked: CTEs, subqueries, RETURNING, default expressions, rule actions,
// function bodies, EXPLAIN targets, PREPARE bodies. A data-modifying statement found
// anywhere inside becomes a nested Statement judged on its own, so nesting never hides
// a DELETE. Nothing here reads a literal's value: classifications are cached by the
// normalized text, which replaces literals (see postgres.ts).
import { runsDynamicSql } from './dynamic-functions.ts';
import { DATA_MODIFYING, kindOf } from './pg-kinds.ts';
import { callChangesSettings, sessionEffect } from './pg-effects.ts';
import type { CopyInfo, Statement } from './types.ts';

type Obj = Record<string, unknown>;

interface Unit {
  stmt: Statement;
  tableKeys: Set<string>;
  functionKeys: Set<string>;
}

/** Build the Statement for a top-level (or nested) statement node. */
export function buildStatement(node: string, body: Obj): Statement {
  const unit = newUnit(node, body);
  walkBody(node, body, unit);
  return unit.stmt;
}

function newUnit(node: string, body: Obj): Unit {
  const entry = kindOf(node);
  const stmt: Statement = {
    kind: entry ? entry[0] : 'other',
    category: entry ? entry[1] : 'unknown',
    node,
    tables: [],
    functions: [],
    noWhere: false,
    opaque: false,
    nested: [],
  };
  if (!entry) markOpaque(stmt, `statement type ${node} is not classified`);
  refine(stmt, body);
  const effect = sessionEffect(node, body);
  if (effect) stmt.effect = effect;
  return { stmt, tableKeys: new Set(), functionKeys: new Set() };
}

function markOpaque(stmt: Statement, reason: string): void {
  if (!stmt.opaque) stmt.opaqueReason = reason;
  stmt.opaque = true;
}

/** Field-dependent refinements of kind, category and flags. */
function refine(stmt: Statement, b: Obj): void {
  switch (stmt.node) {
    case 'UpdateStmt':
    case 'DeleteStmt':
      stmt.noWhere = b.whereClause === undefined;
      break;
    case 'SelectStmt':
      // SELECT ... INTO creates a table
      if (b.intoClause !== undefined) [stmt.kind, stmt.category] = ['create', 'ddl'];
      break;
    case 'CopyStmt': {
      const from = b.is_from === true;
      const program = b.is_program === true;
      stmt.copy = { direction: from ? 'from' : 'to', program, file: !program && typeof b.filename === 'string', ...copyShape(b) };
      stmt.category = program || stmt.copy.file ? 'admin' : from ? 'write' : 'read';
      break;
    }
    case 'VariableSetStmt':
      // anything that changes the current role: SET [LOCAL] ROLE, SET SESSION AUTHORIZATION,
      // their RESET forms, and RESET ALL (which resets the role too)
      if (b.name === 'role' || b.name === 'session_authorization' || b.kind === 'VAR_RESET_ALL') {
        [stmt.kind, stmt.category] = ['set_role', 'admin'];
      }
      break;
    case 'DiscardStmt':
      // DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT and RESET ALL
      if (b.target === 'DISCARD_ALL') [stmt.kind, stmt.category] = ['set_role', 'admin'];
      break;
    case 'GrantStmt':
    case 'GrantRoleStmt':
      if (b.is_grant !== true) stmt.kind = 'revoke';
      break;
    case 'AlterDefaultPrivilegesStmt': {
      const action = b.action as Obj | undefined;
      const inner = action?.GrantStmt as Obj | undefined;
      if (inner && inner.is_grant !== true) stmt.kind = 'revoke';
      break;
    }
    case 'VacuumStmt':
      if (b.is_vacuumcmd !== true) stmt.kind = 'analyze';
      break;
    case 'DoStmt':
      markOpaque(stmt, 'a DO block runs procedural code that cannot be seen through');
      break;
    case 'ExecuteStmt':
      stmt.prepared = String(b.name ?? '');
      // resolved against the session's PREPAREs by PreparedStatements; unknown until then
      markOpaque(stmt, `EXECUTE of prepared statement "${stmt.prepared}" whose body is not known`);
      break;
    case 'PrepareStmt':
    case 'DeallocateStmt':
      stmt.prepared = b.name === undefined ? '*' : String(b.name);
      break;
  }
}

/** Walk the fields of a statement node that became `unit`. */
function walkBody(node: string, body: Obj, unit: Unit): void {
  switch (node) {
    case 'ExplainStmt': {
      const query = body.query as Obj | undefined;
      if (explainRuns(body.options)) {
        // EXPLAIN ANALYZE executes its target: the target is a statement of its own
        if (query) nestStatement(query, unit);
      } else if (query) {
        // plain EXPLAIN only plans; its tables and functions still count (planning may
        // fold function calls), nested writes do not
        walk(query, unit, true);
      }
      walk(body.options, unit, false);
      return;
    }
    case 'PrepareStmt': {
      const query = body.query as Obj | undefined;
      if (query) nestStatement(query, unit);
      walk(body.argtypes, unit, false);
      return;
    }
    case 'DropStmt':
    case 'CommentStmt':
      addObjectNames(body, unit);
      break;
  }
  for (const k in body) walk(body[k], unit, false);
}

/** Wrap a statement node (`{ DeleteStmt: {...} }`) into a nested Statement of `unit`. */
function nestStatement(wrapped: Obj, unit: Unit): void {
  for (const type in wrapped) {
    unit.stmt.nested.push(buildStatement(type, wrapped[type] as Obj));
    return;
  }
}

/**
 * Does this EXPLAIN execute its target? Postgres reads the analyze option as a boolean
 * (true/false/on/off/1/0); anything but an explicit false counts as running.
 */
function explainRuns(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  let runs = false;
  for (const o of options) {
    const d = (o as Obj).DefElem as Obj | undefined;
    if (!d || d.defname !== 'analyze') continue;
    const arg = d.arg as Obj | undefined;
    if (arg === undefined) runs = true;
    else if (arg.Integer !== undefined) runs = ((arg.Integer as Obj).ival ?? 0) !== 0;
    else if (arg.String !== undefined) {
      const v = String((arg.String as Obj).sval ?? '').toLowerCase();
      runs = !(v === 'false' || v === 'off' || v === '0' || v === 'no');
    } else if (arg.Boolean !== undefined) runs = (arg.Boolean as Obj).boolval === true;
    else runs = true;
  }
  return runs;
}

/**
 * The generic walk. `planOnly` is set under a plain EXPLAIN: collect names, create no
 * nested statements (nothing there runs).
 */
function walk(v: unknown, unit: Unit, planOnly: boolean): void {
  if (Array.isArray(v)) {
    for (const x of v) walk(x, unit, planOnly);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const o = v as Obj;
  let only: string | undefined;
  let n = 0;
  for (const k in o) {
    only = k;
    if (++n > 1) break;
  }
  if (n === 1 && only !== undefined && isNodeName(only)) {
    visitNode(only, o[only] as Obj, unit, planOnly);
    return;
  }
  // an unwrapped struct field (libpg-query omits the wrapper where the field's type is fixed)
  if (typeof o.relname === 'string') addTable(o, unit);
  else if (Array.isArray(o.funcname) && typeof o.funcformat === 'string') addFunction(o, unit);
  for (const k in o) walk(o[k], unit, planOnly);
}

function isNodeName(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 65 && c <= 90; // node wrappers are CamelCase; fields are camelCase or snake_case
}

function visitNode(type: string, body: Obj, unit: Unit, planOnly: boolean): void {
  if (body === null || typeof body !== 'object') return;
  if (type === 'RangeVar') addTable(body, unit);
  else if (type === 'FuncCall') addFunction(body, unit);
  else if (!planOnly && (DATA_MODIFYING.has(type) || type === 'ExecuteStmt')) {
    // a write (or an EXECUTE) nested in a CTE, a rule, a function body, COPY (...) TO,
    // CREATE TABLE AS EXECUTE: judged as a statement of its own
    unit.stmt.nested.push(buildStatement(type, body));
    return;
  } else if (type === 'DoStmt') {
    markOpaque(unit.stmt, 'a DO block runs procedural code that cannot be seen through');
  }
  for (const k in body) walk(body[k], unit, planOnly);
}

function addTable(rv: Obj, unit: Unit): void {
  const name = String(rv.relname);
  const schema = typeof rv.schemaname === 'string' ? rv.schemaname : undefined;
  const key = schema === undefined ? name : `${schema}\u0000${name}`;
  if (unit.tableKeys.has(key)) return;
  unit.tableKeys.add(key);
  unit.stmt.tables.push(schema === undefined ? { name } : { schema, name });
}

function addFunction(fc: Obj, unit: Unit): void {
  const parts = (fc.funcname as Obj[]).map((p) => String((p.String as Obj | undefined)?.sval ?? ''));
  const name = parts[parts.length - 1] ?? '';
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
  const key = schema === undefined ? name : `${schema}\u0000${name}`;
  if (!unit.functionKeys.has(key)) {
    unit.functionKeys.add(key);
    unit.stmt.functions.push(schema === undefined ? { name } : { schema, name });
  }
  if (runsDynamicSql(name)) markOpaque(unit.stmt, `${name}() runs SQL given as text, which cannot be seen through`);
  if (callChangesSettings(name)) unit.stmt.effect = { ...unit.stmt.effect, searchPath: true, textSettings: true };
}

const RELATION_OBJECTS = new Set([
  'OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_SEQUENCE', 'OBJECT_INDEX', 'OBJECT_FOREIGN_TABLE',
]);

/** DROP TABLE / COMMENT ON TABLE name relations as plain name lists, not RangeVars. */
function addObjectNames(body: Obj, unit: Unit): void {
  const type = (body.removeType ?? body.objtype) as string | undefined;
  if (!type || !RELATION_OBJECTS.has(type)) return;
  const objects = body.objects ?? (body.object !== undefined ? [body.object] : []);
  if (!Array.isArray(objects)) return;
  for (const o of objects) {
    const items = ((o as Obj).List as Obj | undefined)?.items;
    if (!Array.isArray(items) || items.length === 0) continue;
    const parts = items.map((i) => String(((i as Obj).String as Obj | undefined)?.sval ?? ''));
    const name = parts[parts.length - 1];
    addTable(parts.length > 1 ? { relname: name, schemaname: parts[parts.length - 2] } : { relname: name }, unit);
  }
}

/** What a COPY statement says about its rows: table, column list, format and CSV options. */
function copyShape(b: Record<string, unknown>): Pick<CopyInfo, 'relation' | 'columns' | 'format' | 'delimiter' | 'quote' | 'escape' | 'header'> {
  const option = (name: string): unknown => {
    for (const o of (b.options as { DefElem?: { defname?: string; arg?: Record<string, { sval?: string; boolval?: boolean }> } }[] | undefined) ?? []) {
      if (o.DefElem?.defname !== name) continue;
      const arg = o.DefElem.arg;
      if (!arg) return true; // HEADER alone
      return arg.String?.sval ?? arg.Boolean?.boolval ?? true;
    }
    return undefined;
  };
  const f = String(option('format') ?? 'text').toLowerCase();
  const format = f === 'csv' || f === 'binary' ? f : 'text';
  const header = option('header');
  const rv = b.relation as { relname?: string; schemaname?: string } | undefined;
  const attlist = b.attlist as { String?: { sval?: string } }[] | undefined;
  return {
    relation: typeof rv?.relname === 'string' ? { name: rv.relname, ...(typeof rv.schemaname === 'string' ? { schema: rv.schemaname } : {}) } : undefined,
    columns: attlist?.map((a) => a.String?.sval ?? ''),
    format,
    delimiter: String(option('delimiter') ?? (format === 'csv' ? ',' : '\t')),
    quote: String(option('quote') ?? '"'),
    escape: String(option('escape') ?? option('quote') ?? '"'),
    header: header === true || (typeof header === 'string' && /^(true|on|1|match)$/i.test(header)),
  };
}
