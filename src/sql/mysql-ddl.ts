// MySQL statements about objects and files that Warden reads from their tokens: DROP,
// CREATE and ALTER of what node-sql-parser does not read (users, routines, triggers,
// events, sequences, views), GRANT and REVOKE, table maintenance, LOAD DATA, HANDLER and
// CALL, and CREATE/ALTER TABLE where the grammar fails. Expressions inside them still go to
// the parser (ReadContext.expressionInto); one it cannot read makes the statement opaque.
import type { Token } from './mysql-lexer.ts';
import { addFunction, addTable, fileCopy, markOpaque } from './mysql-walk.ts';
import { findTop, has, isName, isOp, isWord, make, nameList, opaqueStatement, qname, splitTop } from './mysql-tokens.ts';
import { flattenStatements, type Statement, type StatementKind } from './types.ts';
import type { Read, ReadContext } from './mysql-statements.ts';

/** DEALLOCATE PREPARE name, DROP PREPARE name */
export function deallocate(tokens: Token[], at: number): Statement {
  const name = isName(tokens[at]) ? tokens[at].v.toLowerCase() : '';
  const s = make('deallocate', 'session', 'DEALLOCATE PREPARE');
  s.prepared = name;
  s.effect = { deallocate: name };
  return s;
}

export function readHandler(tokens: Token[], ctx: ReadContext): Statement {
  // HANDLER t OPEN [AS a] | HANDLER a READ ... [WHERE ...] | HANDLER a CLOSE: reads rows of t
  const s = make('select', 'read', 'HANDLER');
  const q = qname(tokens, 1);
  if (q) addTable(s, q.name, q.schema);
  const where = findTop(tokens, 1, (t) => isWord(t, 'WHERE'));
  const limit = findTop(tokens, where + 1, (t) => isWord(t, 'LIMIT'));
  if (where >= 0 && !ctx.expressionInto(s, tokens.slice(where + 1, limit < 0 ? undefined : limit), 'where')) markOpaque(s, 'the WHERE of HANDLER could not be read');
  const read = findTop(tokens, 1, (t) => isWord(t, 'READ'));
  const cmp = read < 0 ? -1 : findTop(tokens, read, (t) => isOp(t, '(')); // READ idx = (values)
  if (cmp >= 0 && (where < 0 || cmp < where)) {
    const close = findTop(tokens, cmp + 1, (t) => isOp(t, ')'));
    const values = tokens.slice(cmp + 1, close < 0 ? undefined : close);
    if (!ctx.expressionInto(s, values, 'list')) markOpaque(s, 'the key values of HANDLER READ could not be read');
  }
  return s;
}

export function readCall(tokens: Token[], ctx: ReadContext): Statement {
  const s = make('call', 'write', 'CALL');
  const q = qname(tokens, 1);
  if (!q) return opaqueStatement('CALL', 'a CALL Warden cannot read');
  addFunction(s, q.name, q.schema);
  if (isOp(tokens[q.next], '(')) {
    const args = tokens.slice(q.next + 1, tokens.length - 1);
    if (!isOp(tokens[tokens.length - 1], ')') || (args.length > 0 && !ctx.expressionInto(s, args, 'list'))) markOpaque(s, 'the arguments of CALL could not be read');
  }
  return s;
}

export function readLoad(tokens: Token[], ctx: ReadContext): Statement {
  if (!isWord(tokens[1], 'DATA', 'XML')) return make('other', 'admin', 'LOAD INDEX');
  const local = findTop(tokens, 2, (t) => isWord(t, 'INFILE')) > 0 && has(tokens.slice(0, findTop(tokens, 2, (t) => isWord(t, 'INFILE'))), 'LOCAL');
  const into = findTop(tokens, 2, (t) => isWord(t, 'TABLE'));
  const q = into < 0 ? null : qname(tokens, into + 1);
  const s = make('copy', local ? 'write' : 'admin', `LOAD ${tokens[1]!.u}`);
  s.copy = fileCopy('from', q ? { name: q.name.toLowerCase(), ...(q.schema ? { schema: q.schema.toLowerCase() } : {}) } : undefined, local);
  if (q) addTable(s, q.name, q.schema);
  const set = findTop(tokens, into + 1, (t) => isWord(t, 'SET'));
  if (set >= 0) {
    for (const part of splitTop(tokens, set + 1)) {
      const eq = part.findIndex((t) => isOp(t, '='));
      if (eq < 0 || !ctx.expressionInto(s, part.slice(eq + 1), 'list')) markOpaque(s, 'the SET clause of LOAD DATA could not be read');
    }
  }
  // The file comes from the client's machine and Warden never sees it: only a rule (or
  // onUnknown) lets it through, and the gateway refuses the server's request for a file
  // otherwise (see the MySQL engine).
  if (local) markOpaque(s, 'LOAD DATA LOCAL sends a file from the client, which Warden does not read; a rule must allow it');
  return s;
}

export function maintenance(kind: StatementKind, tokens: Token[]): Statement {
  const s = make(kind, 'admin', `${tokens[0]!.u} TABLE`);
  const t = findTop(tokens, 1, (x) => isWord(x, 'TABLE', 'TABLES', 'VIEW'));
  if (t >= 0) nameList(s, tokens, t + 1, ['PERSISTENT', 'QUICK', 'FAST', 'MEDIUM', 'EXTENDED', 'CHANGED', 'FOR', 'USE_FRM']);
  return s;
}

export function readGrant(tokens: Token[]): Statement {
  const s = make(tokens[0]!.u === 'GRANT' ? 'grant' : 'revoke', 'admin', tokens[0]!.u);
  const on = findTop(tokens, 1, (t) => isWord(t, 'ON'));
  if (on < 0) return s; // GRANT role TO user
  let i = on + 1;
  const routine = isWord(tokens[i], 'FUNCTION', 'PROCEDURE');
  if (isWord(tokens[i], 'TABLE', 'FUNCTION', 'PROCEDURE')) i++;
  const q = qname(tokens, i);
  if (q && q.name !== '*' && !routine) addTable(s, q.name, q.schema);
  return s;
}

export function readDrop(tokens: Token[]): Statement {
  let i = 1;
  if (isWord(tokens[i], 'TEMPORARY')) i++;
  const what = tokens[i]?.u ?? '';
  let j = i + 1;
  if (isWord(tokens[j], 'IF') && isWord(tokens[j + 1], 'EXISTS')) j += 2;
  switch (what) {
    case 'TABLE':
    case 'TABLES':
    case 'VIEW':
    case 'SEQUENCE': {
      const s = make('drop', 'ddl', `DROP ${what}`);
      nameList(s, tokens, j, ['RESTRICT', 'CASCADE']);
      return s;
    }
    case 'INDEX': {
      const s = make('drop', 'ddl', 'DROP INDEX');
      const on = findTop(tokens, j, (t) => isWord(t, 'ON'));
      const q = on < 0 ? null : qname(tokens, on + 1);
      if (q) addTable(s, q.name, q.schema);
      return s;
    }
    case 'PREPARE':
      return deallocate(tokens, 2);
    case 'FUNCTION':
    case 'PROCEDURE': {
      const s = make('drop', 'ddl', `DROP ${what}`);
      s.effect = { functions: true };
      return s;
    }
    case 'USER':
    case 'ROLE':
    case 'SERVER':
      return make('drop', 'admin', `DROP ${what}`);
    default:
      return make('drop', 'ddl', `DROP ${what}`.trim());
  }
}

/** CREATE / ALTER of what the parser does not read (users, routines, events...); null leaves tables, views and indexes to it. */
export function readDdl(tokens: Token[], ctx: ReadContext): Read | null {
  const verb = tokens[0]!.u;
  const kind: StatementKind = verb === 'CREATE' ? 'create' : 'alter';
  // skip what may stand before the object type
  let i = 1;
  for (;;) {
    const t = tokens[i];
    if (isWord(t, 'OR') && isWord(tokens[i + 1], 'REPLACE')) i += 2;
    else if (isWord(t, 'ALGORITHM', 'DEFINER') && isOp(tokens[i + 1], '=')) {
      i += 3;
      if (tokens[i]?.kind === 'uservar' || isOp(tokens[i], '@')) i += tokens[i]?.kind === 'uservar' ? 1 : 2; // user@host
      if (isOp(tokens[i], '(') && isOp(tokens[i + 1], ')')) i += 2; // CURRENT_USER()
    } else if (isWord(t, 'SQL') && isWord(tokens[i + 1], 'SECURITY')) i += 3;
    else if (isWord(t, 'TEMPORARY', 'ONLINE', 'OFFLINE', 'IGNORE', 'AGGREGATE', 'UNIQUE', 'FULLTEXT', 'SPATIAL', 'UNDEFINED')) i++;
    else break;
  }
  const what = tokens[i]?.u ?? '';
  const node = `${verb} ${what}`;
  switch (what) {
    case 'USER':
    case 'ROLE':
    case 'SERVER':
    case 'INSTANCE':
    case 'RESOURCE':
      return { stmt: make(kind, 'admin', node) };
    case 'DATABASE':
    case 'SCHEMA':
    case 'TABLESPACE':
    case 'LOGFILE':
      return { stmt: make(kind, 'ddl', node) };
    case 'FUNCTION':
    case 'PROCEDURE': {
      // a loadable function (CREATE FUNCTION f RETURNS ... SONAME 'lib.so') loads a library into the server
      const s = make(kind, has(tokens, 'SONAME') ? 'admin' : 'ddl', node);
      s.effect = { functions: true };
      return { stmt: s };
    }
    case 'TRIGGER':
    case 'EVENT': {
      const s = make(kind, 'ddl', node);
      // its body runs later inside the server (on each row, on a schedule), never through Warden
      if (kind === 'create' || has(tokens, 'DO', i)) markOpaque(s, `a ${what.toLowerCase()} runs its body inside the server, out of sight of Warden`);
      return { stmt: s };
    }
    case 'SEQUENCE': {
      const s = make(kind, 'ddl', node);
      let j = i + 1;
      if (isWord(tokens[j], 'IF')) j += isWord(tokens[j + 1], 'NOT') ? 3 : 2;
      const q = qname(tokens, j);
      if (q) addTable(s, q.name, q.schema);
      return { stmt: s };
    }
    case 'VIEW': {
      const s = make(kind, 'ddl', node);
      const q = qname(tokens, i + 1);
      if (q) addTable(s, q.name, q.schema);
      const as = findTop(tokens, i + 1, (t) => isWord(t, 'AS'));
      if (as < 0) return { stmt: s };
      mergeQuery(s, ctx.statementOf(tokens.slice(as + 1)).stmt);
      return { stmt: s };
    }
    default:
      return null; // TABLE, INDEX: the parser, with a fallback (see tableDdlFallback)
  }
}

/** The tables and functions a query names, added to the statement that holds it (CREATE VIEW, CREATE TABLE ... SELECT). */
function mergeQuery(s: Statement, q: Statement): void {
  for (const u of flattenStatements([q])) {
    for (const t of u.tables) addTable(s, t.name, t.schema);
    for (const f of u.functions) addFunction(s, f.name, f.schema);
    if (u.opaque) markOpaque(s, u.opaqueReason ?? 'the query could not be read');
  }
}

/**
 * CREATE/ALTER TABLE or INDEX the parser could not read: the table it names, and the
 * query of CREATE TABLE ... SELECT read on its own. MySQL allows no stored function and no
 * subquery in a default or generated column, so nothing else in it runs a query.
 */
export function tableDdlFallback(tokens: Token[], ctx: ReadContext): Statement | null {
  const verb = tokens[0]!.u;
  if (verb !== 'CREATE' && verb !== 'ALTER') return null;
  const t = findTop(tokens, 1, (x) => isWord(x, 'TABLE', 'INDEX'));
  if (t < 0) return null;
  const s = make(verb === 'CREATE' ? 'create' : 'alter', 'ddl', `${verb} ${tokens[t]!.u}`);
  let j = t + 1;
  if (tokens[t]!.u === 'INDEX') {
    const on = findTop(tokens, j, (x) => isWord(x, 'ON'));
    j = on < 0 ? tokens.length : on + 1;
  } else if (isWord(tokens[j], 'IF')) j += isWord(tokens[j + 1], 'NOT') ? 3 : 2;
  const q = qname(tokens, j);
  if (q) addTable(s, q.name, q.schema);
  const like = findTop(tokens, j, (x) => isWord(x, 'LIKE'));
  const likeName = like < 0 ? null : qname(tokens, like + 1);
  if (likeName) addTable(s, likeName.name, likeName.schema);
  // the first SELECT / WITH (at any depth: CREATE TABLE t (SELECT ...))
  const sel = tokens.findIndex((x, k) => k > j && isWord(x, 'SELECT', 'WITH'));
  if (sel >= 0) {
    let end = tokens.length;
    if (isOp(tokens[sel - 1], '(')) {
      const close = findTop(tokens, sel, (x) => isOp(x, ')'));
      if (close >= 0) end = close;
    }
    mergeQuery(s, ctx.statementOf(tokens.slice(sel, end)).stmt);
  }
  return s;
}
