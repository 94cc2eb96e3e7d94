// Turns one statement as node-sql-parser reads it (MySQL / MariaDB grammar) into a
// Statement. The WHOLE tree is walked: subqueries in any clause, UNION arms, CTEs, INSERT
// sources, ON DUPLICATE KEY UPDATE, default expressions. MySQL has no data-modifying
// subqueries, so every name found belongs to the statement itself. Names are folded to
// lower case: table names are case-sensitive on Linux servers, but rules match MySQL names
// case-insensitively, the safe reading for a block rule. No literal value is read (the
// parser sees placeholders, see mysql-lexer.ts).
import type { Category, CopyInfo, Statement, StatementKind } from './types.ts';

type Obj = Record<string, unknown>;

const KINDS: Record<string, readonly [StatementKind, Category]> = {
  select: ['select', 'read'],
  insert: ['insert', 'write'],
  replace: ['insert', 'write'],
  update: ['update', 'write'],
  delete: ['delete', 'write'],
  create: ['create', 'ddl'],
  alter: ['alter', 'ddl'],
  drop: ['drop', 'ddl'],
  truncate: ['truncate', 'write'],
  rename: ['alter', 'ddl'],
  use: ['set', 'session'],
  show: ['show', 'read'],
  desc: ['show', 'read'],
  call: ['call', 'write'],
  transaction: ['transaction', 'transaction'],
  lock: ['lock', 'write'],
  unlock: ['lock', 'write'],
  grant: ['grant', 'admin'],
  revoke: ['revoke', 'admin'],
};

/** Functions of MariaDB sequences: their first argument names a sequence (a table). */
const SEQUENCE_FUNCTIONS = new Set(['nextval', 'lastval', 'setval']);

export function newStatement(kind: StatementKind, category: Category, node: string): Statement {
  return { kind, category, node, tables: [], functions: [], noWhere: false, opaque: false, nested: [] };
}

export function markOpaque(stmt: Statement, reason: string): void {
  if (!stmt.opaque) stmt.opaqueReason = reason;
  stmt.opaque = true;
}

/** Add a table once (names folded to lower case). */
export function addTable(stmt: Statement, name: string, schema?: string | null): void {
  const n = unquote(name).toLowerCase();
  const s = schema === undefined || schema === null || schema === '' ? undefined : unquote(schema).toLowerCase();
  if (stmt.tables.some((t) => t.name === n && t.schema === s)) return;
  stmt.tables.push(s === undefined ? { name: n } : { schema: s, name: n });
}

/** Add a function call once (names folded to lower case). */
export function addFunction(stmt: Statement, name: string, schema?: string | null): void {
  const n = unquote(name).toLowerCase();
  const s = schema === undefined || schema === null || schema === '' ? undefined : unquote(schema).toLowerCase();
  if (stmt.functions.some((f) => f.name === n && f.schema === s)) return;
  stmt.functions.push(s === undefined ? { name: n } : { schema: s, name: n });
}

/** node-sql-parser keeps a backquoted name's doubled backticks. */
function unquote(s: string): string {
  return s.includes('``') ? s.replace(/``/g, '`') : s;
}

/** Build the Statement for one parsed statement (the parser's AST node). */
export function walkStatement(ast: Obj): Statement {
  const type = String(ast.type ?? '');
  const entry = KINDS[type];
  const stmt = newStatement(entry ? entry[0] : 'other', entry ? entry[1] : 'unknown', type.toUpperCase());
  if (!entry) markOpaque(stmt, `statement type ${type || '(none)'} is not classified`);
  refine(stmt, ast);
  walk(ast, stmt);
  return stmt;
}

function refine(stmt: Statement, ast: Obj): void {
  switch (stmt.node) {
    case 'UPDATE':
    case 'DELETE':
      stmt.noWhere = ast.where === null || ast.where === undefined;
      break;
    case 'CREATE':
    case 'ALTER':
    case 'DROP': {
      const keyword = String(ast.keyword ?? '').toLowerCase();
      if (keyword === 'user' || keyword === 'role' || keyword === 'server') stmt.category = 'admin';
      if (keyword === 'trigger' && stmt.node === 'CREATE') {
        // a trigger's body runs later, inside the server, on statements Warden allowed
        markOpaque(stmt, 'a trigger runs its body inside the server, out of sight of Warden');
      }
      if (keyword === 'function' || keyword === 'procedure') stmt.effect = { functions: true };
      break;
    }
    case 'USE':
      stmt.effect = { searchPath: true };
      break;
    case 'TRANSACTION': {
      const action = String(((ast.expr as Obj | undefined)?.action as Obj | undefined)?.value ?? '').toLowerCase();
      if (action === 'commit' || action === 'rollback') stmt.effect = { transactionEnd: true };
      break;
    }
    case 'SELECT': {
      // SELECT ... INTO OUTFILE / DUMPFILE writes a file on the database server
      for (let s: Obj | undefined = ast; s; s = s._next as Obj | undefined) {
        const into = s.into as Obj | undefined;
        const keyword = String(into?.keyword ?? '').toUpperCase();
        if (keyword === 'OUTFILE' || keyword === 'DUMPFILE') {
          stmt.kind = 'copy';
          stmt.category = 'admin';
          stmt.copy = fileCopy('to');
        }
      }
      break;
    }
  }
}

/** A statement that moves rows between a table and a file (LOAD DATA, SELECT INTO OUTFILE). */
export function fileCopy(direction: 'from' | 'to', relation?: { schema?: string; name: string }, local = false): CopyInfo {
  return { direction, program: false, file: !local, ...(relation ? { relation } : {}), format: 'text', delimiter: '\t', quote: '"', escape: '"', header: false };
}

/** Every table and function named anywhere under `v`. */
export function walk(v: unknown, stmt: Statement): void {
  if (Array.isArray(v)) {
    for (const x of v) walk(x, stmt);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const o = v as Obj;
  const type = o.type;
  if (type === 'column_ref') return; // `t.col`: t is a table alias or name already listed
  if (type === 'function' || type === 'aggr_func') {
    addCall(o, stmt);
  } else if (typeof o.table === 'string' && ('db' in o || o.action === 'rename')) {
    addTable(stmt, o.table, o.db as string | null);
  } else if (typeof o.view === 'string' && 'db' in o) {
    addTable(stmt, o.view, o.db as string | null);
  } else if (type === 'desc' && typeof o.table === 'string') {
    addTable(stmt, o.table);
  }
  for (const k in o) {
    // a trigger's own name is not a table
    if (k === 'trigger') continue;
    walk(o[k], stmt);
  }
}

function addCall(o: Obj, stmt: Statement): void {
  const name = o.name as Obj | string | undefined;
  if (typeof name === 'string') {
    addFunction(stmt, name);
    return;
  }
  const parts = (name?.name as Obj[] | undefined) ?? [];
  const last = parts[parts.length - 1]?.value;
  if (typeof last !== 'string') return;
  const schema = (name?.schema as Obj | undefined)?.value;
  addFunction(stmt, last, typeof schema === 'string' ? schema : undefined);
  if (SEQUENCE_FUNCTIONS.has(last.toLowerCase()) && schema === undefined) {
    // NEXTVAL(seq), SETVAL(db.seq, n): the sequence is read (and written) like a table
    const first = ((o.args as Obj | undefined)?.value as Obj[] | undefined)?.[0];
    if (first?.type === 'column_ref' && typeof first.column === 'string') addTable(stmt, first.column, first.table as string | null);
  }
}
