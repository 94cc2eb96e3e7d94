// MySQL statements Warden reads from their tokens instead of node-sql-parser's grammar:
// the ones the grammar does not know (SHOW variants, KILL, HANDLER, PREPARE, FLUSH...) and
// the ones whose meaning for Warden lies in a detail the grammar drops (which session
// variable a SET changes, whether LOAD DATA is LOCAL, what a PREPARE's string runs). Every
// expression inside them (a SET's value, a SHOW's WHERE) is still read by the parser; one
// it cannot read makes the statement opaque. Statements not handled here go to the parser.
import { lexModeOf, normalize, UNREADABLE_CHARSETS, type LexMode, type Token } from './mysql-lexer.ts';
import { addFunction, addTable, markOpaque } from './mysql-walk.ts';
import { findTop, has, isName, isOp, isWord, make, nameList, opaqueStatement, qname, splitTop } from './mysql-tokens.ts';
import { deallocate, maintenance, readCall, readDdl, readDrop, readGrant, readHandler, readLoad } from './mysql-ddl.ts';
import { flattenStatements, type Statement } from './types.ts';

export { tableDdlFallback } from './mysql-ddl.ts';
export { opaqueStatement } from './mysql-tokens.ts';

/** One statement read, and how the server reads the text after it. */
export interface Read {
  stmt: Statement;
  /** undefined: the mode stays; null: not known (the rest of the text is opaque) */
  nextMode?: LexMode | null;
  /** the cache key when the normalized text does not say everything (PREPARE's string) */
  key?: string;
}

export interface ReadContext {
  mode: LexMode;
  /** classify a statement given as tokens (EXPLAIN's target, SET STATEMENT ... FOR's) */
  statementOf(tokens: Token[]): Read;
  /** classify SQL given as a string (a PREPARE's body) under the current mode */
  textOf(text: string): { statements: Statement[]; key: string };
  /** parse `SELECT <tokens>` (or `... WHERE <tokens>`): tables and functions into `stmt`; false when it cannot be read */
  expressionInto(stmt: Statement, tokens: Token[], as: 'list' | 'where'): boolean;
}

export function readByKeyword(tokens: Token[], ctx: ReadContext): Read | null {
  const first = tokens[0]!;
  if (first.kind !== 'word') return null;
  switch (first.u) {
    case 'USE': {
      const s = make('set', 'session', 'USE');
      s.effect = { searchPath: true };
      return { stmt: s };
    }
    case 'SET':
      return readSet(tokens, ctx);
    case 'SHOW':
      return { stmt: readShow(tokens, ctx) };
    case 'DESC':
    case 'DESCRIBE':
    case 'EXPLAIN':
      return readExplain(tokens, ctx);
    case 'PREPARE':
      return readPrepare(tokens, ctx);
    case 'EXECUTE':
      return readExecute(tokens, ctx);
    case 'DEALLOCATE':
      return { stmt: deallocate(tokens, 2) };
    case 'HANDLER':
      return { stmt: readHandler(tokens, ctx) };
    case 'KILL':
      return { stmt: make('other', 'admin', 'KILL') };
    case 'CALL':
      return { stmt: readCall(tokens, ctx) };
    case 'DO': {
      const s = make('select', 'read', 'DO');
      if (!ctx.expressionInto(s, tokens.slice(1), 'list')) markOpaque(s, 'the expressions of DO could not be read');
      return { stmt: s };
    }
    case 'LOAD':
      return { stmt: readLoad(tokens, ctx) };
    case 'BEGIN':
      if (tokens.length === 1 || (tokens.length === 2 && isWord(tokens[1], 'WORK'))) return { stmt: make('transaction', 'transaction', 'BEGIN') };
      // BEGIN NOT ATOMIC ... END: a compound statement, procedural code run at once
      return { stmt: opaqueStatement('BEGIN', 'a compound statement (BEGIN ... END) runs procedural code that cannot be seen through') };
    case 'START':
      if (isWord(tokens[1], 'TRANSACTION')) return { stmt: make('transaction', 'transaction', 'START TRANSACTION') };
      return { stmt: make('other', 'admin', `START ${tokens[1]?.u ?? ''}`.trim()) }; // START SLAVE / REPLICA
    case 'COMMIT':
    case 'ROLLBACK': {
      const s = make('transaction', 'transaction', first.u);
      if (!(first.u === 'ROLLBACK' && has(tokens, 'TO'))) s.effect = { transactionEnd: true };
      return { stmt: s };
    }
    case 'SAVEPOINT':
    case 'RELEASE':
    case 'XA':
      return { stmt: make('transaction', 'transaction', first.u) };
    case 'LOCK':
    case 'UNLOCK': {
      if (isWord(tokens[1], 'INSTANCE')) return { stmt: make('lock', 'admin', `${first.u} INSTANCE`) };
      const s = make('lock', 'write', `${first.u} TABLES`);
      if (first.u === 'LOCK' && isWord(tokens[1], 'TABLE', 'TABLES')) nameList(s, tokens, 2);
      return { stmt: s };
    }
    case 'FLUSH':
    case 'RESET':
    case 'PURGE':
    case 'INSTALL':
    case 'UNINSTALL':
    case 'SHUTDOWN':
    case 'RESTART':
    case 'BINLOG':
    case 'CHANGE':
    case 'STOP':
    case 'CACHE':
    case 'CLONE':
      return { stmt: make('other', 'admin', first.u) };
    case 'HELP':
      return { stmt: make('show', 'read', 'HELP') };
    case 'ANALYZE':
      if (isWord(tokens[1], 'TABLE', 'TABLES', 'NO_WRITE_TO_BINLOG', 'LOCAL')) return { stmt: maintenance('analyze', tokens) };
      // MariaDB's ANALYZE <statement>: runs it, then shows the plan
      return readExplain(tokens, ctx, true);
    case 'OPTIMIZE':
    case 'CHECK':
    case 'REPAIR':
    case 'CHECKSUM':
      return { stmt: maintenance('other', tokens) };
    case 'GRANT':
    case 'REVOKE':
      return { stmt: readGrant(tokens) };
    case 'DROP':
      return { stmt: readDrop(tokens) };
    case 'TRUNCATE': {
      const s = make('truncate', 'write', 'TRUNCATE');
      nameList(s, tokens, isWord(tokens[1], 'TABLE') ? 2 : 1);
      return { stmt: s };
    }
    case 'RENAME': {
      if (isWord(tokens[1], 'USER')) return { stmt: make('alter', 'admin', 'RENAME USER') };
      const s = make('alter', 'ddl', 'RENAME TABLE');
      for (const part of splitTop(tokens, 2)) {
        const to = part.findIndex((t) => isWord(t, 'TO'));
        for (const at of [0, to + 1]) {
          const q = to < 0 ? null : qname(part, at);
          if (q) addTable(s, q.name, q.schema);
        }
      }
      return { stmt: s };
    }
    case 'CREATE':
    case 'ALTER':
      return readDdl(tokens, ctx);
    case 'TABLE': {
      // MySQL 8: TABLE t is SELECT * FROM t
      const s = make('select', 'read', 'TABLE');
      const q = qname(tokens, 1);
      if (q) addTable(s, q.name, q.schema);
      return { stmt: s };
    }
    case 'VALUES': {
      const s = make('select', 'read', 'VALUES');
      if (!ctx.expressionInto(s, tokens.slice(1), 'list')) markOpaque(s, 'the rows of VALUES could not be read');
      return { stmt: s };
    }
    case 'GET':
      return { stmt: make('show', 'read', 'GET DIAGNOSTICS') };
    default:
      return null;
  }
}


// ---- SET -----------------------------------------------------------------------------------

const SCOPES = new Set(['GLOBAL', 'SESSION', 'LOCAL', 'PERSIST', 'PERSIST_ONLY']);

function readSet(tokens: Token[], ctx: ReadContext): Read {
  const second = tokens[1];
  if (isWord(second, 'NAMES', 'CHARSET') || (isWord(second, 'CHARACTER') && isWord(tokens[2], 'SET'))) {
    const s = make('set', 'session', 'SET NAMES');
    s.effect = { syntax: true };
    const value = tokens[isWord(second, 'CHARACTER') ? 3 : 2];
    return { stmt: s, nextMode: charsetMode(value, ctx.mode) };
  }
  if (isWord(second, 'PASSWORD')) return { stmt: make('alter', 'admin', 'SET PASSWORD') };
  if (isWord(second, 'ROLE') || (isWord(second, 'DEFAULT') && isWord(tokens[2], 'ROLE'))) return { stmt: make('set_role', 'admin', 'SET ROLE') };
  if (isWord(second, 'TRANSACTION') || (SCOPES.has(second?.u ?? '') && isWord(tokens[2], 'TRANSACTION'))) return { stmt: make('transaction', 'transaction', 'SET TRANSACTION') };
  if (isWord(second, 'STATEMENT')) {
    // MariaDB: SET STATEMENT var = value [, ...] FOR <statement>; the values hold for that statement only
    const f = findTop(tokens, 2, (t) => isWord(t, 'FOR'));
    if (f < 0) return { stmt: opaqueStatement('SET STATEMENT', 'SET STATEMENT without FOR') };
    const inner = ctx.statementOf(tokens.slice(f + 1));
    const probe = make('set', 'session', 'SET STATEMENT');
    for (const part of splitTop(tokens, 2, f)) {
      const eq = part.findIndex((t) => isOp(t, '=') || isOp(t, ':='));
      if (eq < 0 || !valueInto(probe, part.slice(eq + 1), ctx)) markOpaque(probe, 'a value of SET STATEMENT could not be read');
    }
    const stmt = { ...inner.stmt, tables: [...inner.stmt.tables, ...probe.tables], functions: [...inner.stmt.functions, ...probe.functions] };
    if (probe.opaque && !stmt.opaque) markOpaque(stmt, probe.opaqueReason!);
    return { stmt, nextMode: inner.nextMode };
  }
  const s = make('set', 'session', 'SET');
  let scope = 'SESSION';
  let nextMode: LexMode | null | undefined;
  for (const part of splitTop(tokens, 1)) {
    let i = 0;
    if (isWord(part[0], ...SCOPES)) {
      scope = part[0]!.u === 'LOCAL' ? 'SESSION' : part[0]!.u;
      i = 1;
    }
    let here = scope;
    let name: string | null = null;
    const t = part[i];
    if (t?.kind === 'sysvar') {
      const dot = t.v.indexOf('.');
      const prefix = dot > 0 ? t.v.slice(0, dot) : '';
      if (prefix === 'global' || prefix === 'persist' || prefix === 'persist_only') here = 'GLOBAL';
      else if (prefix === 'session' || prefix === 'local' || prefix === '') here = 'SESSION';
      name = dot > 0 ? t.v.slice(dot + 1) : t.v;
      i++;
    } else if (t?.kind === 'uservar') {
      // a user variable (name stays null): no effect on the server's reading of anything
      here = 'USER';
      i++;
    } else if (isName(t)) {
      const q = qname(part, i);
      name = (q?.schema ? `${q.schema}.${q.name}` : t.v).toLowerCase();
      i = q?.next ?? i + 1;
    } else {
      return { stmt: opaqueStatement('SET', 'a SET that Warden cannot read') };
    }
    if (!(isOp(part[i], '=') || isOp(part[i], ':='))) return { stmt: opaqueStatement('SET', 'a SET that Warden cannot read') };
    const value = part.slice(i + 1);
    if (here === 'GLOBAL') s.category = 'admin';
    if (!valueInto(s, value, ctx)) markOpaque(s, 'the value of a SET could not be read');
    if (here !== 'SESSION' || name === null) continue;
    if (name === 'sql_mode') {
      s.effect = { ...s.effect, syntax: true };
      const v = value.length === 1 && (value[0]!.kind === 'string' || (value[0]!.kind === 'word' && value[0]!.u !== 'DEFAULT')) ? value[0]!.v : null;
      const m = v === null ? null : lexModeOf(v);
      nextMode = m === null || m.unsupported ? null : { ansiQuotes: m.ansiQuotes, noBackslashEscapes: m.noBackslashEscapes };
    } else if (name === 'character_set_client' || name === 'names') {
      s.effect = { ...s.effect, syntax: true };
      const m = charsetMode(value.length === 1 ? value[0] : undefined, nextMode === undefined ? ctx.mode : nextMode);
      if (m === null) nextMode = null;
    } else if (name === 'search_path') {
      // not MySQL's, but harmless to follow
    }
  }
  return nextMode === undefined ? { stmt: s } : { stmt: s, nextMode };
}

/** The mode after the client's character set becomes `value`: null when Warden cannot read text in it. */
function charsetMode(value: Token | undefined, mode: LexMode | null): LexMode | null {
  if (mode === null || value === undefined || (value.kind !== 'word' && value.kind !== 'string' && value.kind !== 'ident')) return null;
  const cs = value.v.toLowerCase();
  if (cs === 'default' || UNREADABLE_CHARSETS.has(cs)) return null;
  return mode;
}

/** A value in a SET: a single literal or name is nothing to read; an expression goes to the parser. */
function valueInto(stmt: Statement, value: Token[], ctx: ReadContext): boolean {
  if (value.length === 0) return false;
  if (value.length === 1 && value[0]!.kind !== 'op') return true;
  if (value.length === 2 && isOp(value[0], '-') && value[1]!.kind === 'number') return true;
  return ctx.expressionInto(stmt, value, 'list');
}

// ---- SHOW, EXPLAIN ----------------------------------------------------------------------------

function readShow(tokens: Token[], ctx: ReadContext): Statement {
  const s = make('show', 'read', 'SHOW');
  let i = 1;
  while (isWord(tokens[i], 'FULL', 'EXTENDED', 'GLOBAL', 'SESSION')) i++;
  const what = tokens[i]?.u ?? '';
  if (['COLUMNS', 'FIELDS', 'INDEX', 'INDEXES', 'KEYS'].includes(what) && isWord(tokens[i + 1], 'FROM', 'IN')) {
    const q = qname(tokens, i + 2);
    if (q) {
      const db = isWord(tokens[q.next], 'FROM', 'IN') && isName(tokens[q.next + 1]) ? tokens[q.next + 1]!.v : q.schema;
      addTable(s, q.name, db);
    }
  } else if (what === 'CREATE' && isWord(tokens[i + 1], 'TABLE', 'VIEW', 'SEQUENCE')) {
    const q = qname(tokens, i + 2);
    if (q) addTable(s, q.name, q.schema);
  }
  const where = findTop(tokens, i, (t) => isWord(t, 'WHERE'));
  if (where >= 0 && !ctx.expressionInto(s, tokens.slice(where + 1), 'where')) markOpaque(s, 'the WHERE of SHOW could not be read');
  return s;
}

const STATEMENT_STARTS = new Set(['SELECT', 'INSERT', 'REPLACE', 'UPDATE', 'DELETE', 'WITH', 'TABLE', 'VALUES']);

function readExplain(tokens: Token[], ctx: ReadContext, runs = false): Read {
  let i = 1;
  let analyze = runs;
  for (;;) {
    const t = tokens[i];
    if (isWord(t, 'EXTENDED', 'PARTITIONS')) i++;
    else if (isWord(t, 'ANALYZE')) {
      analyze = true;
      i++;
    } else if (isWord(t, 'FORMAT') && isOp(tokens[i + 1], '=')) i += 3;
    else break;
  }
  const t = tokens[i];
  if (isWord(t, 'FOR')) return { stmt: make('show', 'read', 'EXPLAIN FOR CONNECTION') };
  if (!(isOp(t, '(') || (t?.kind === 'word' && STATEMENT_STARTS.has(t.u)))) {
    // DESCRIBE t [column]: the table's columns
    const s = make('show', 'read', 'DESCRIBE');
    const q = qname(tokens, i);
    if (q) addTable(s, q.name, q.schema);
    return { stmt: s };
  }
  const inner = ctx.statementOf(tokens.slice(i));
  const s = make('explain', 'read', analyze ? 'EXPLAIN ANALYZE' : 'EXPLAIN');
  if (analyze) {
    // it runs the statement: judged as a statement of its own
    s.nested.push(inner.stmt);
    return { stmt: s, nextMode: inner.nextMode };
  }
  // planning only: the statement's names still count (planning may evaluate functions)
  for (const u of flattenStatements([inner.stmt])) {
    for (const tb of u.tables) addTable(s, tb.name, tb.schema);
    for (const f of u.functions) addFunction(s, f.name, f.schema);
    if (u.opaque && u.kind === 'unknown') markOpaque(s, u.opaqueReason ?? 'the explained statement cannot be read');
  }
  return { stmt: s };
}

// ---- prepared statements ------------------------------------------------------------------------

function readPrepare(tokens: Token[], ctx: ReadContext): Read {
  const name = isName(tokens[1]) ? tokens[1].v.toLowerCase() : '';
  const s = make('prepare', 'session', 'PREPARE');
  s.prepared = name;
  s.effect = { prepare: name };
  const body = tokens[3];
  if (!isWord(tokens[2], 'FROM') || body === undefined || tokens.length !== 4) {
    s.nested.push(opaqueStatement('PREPARE', 'a PREPARE Warden cannot read'));
    return { stmt: s };
  }
  if (body.kind === 'string') {
    const inner = ctx.textOf(body.v);
    s.nested.push(...inner.statements);
    return { stmt: s, key: `${normalize(tokens)}\u0000${inner.key}` };
  }
  // PREPARE s FROM @sql: whatever the variable holds when it runs
  s.nested.push(opaqueStatement('PREPARE', `the body of prepared statement "${name}" comes from a variable`));
  return { stmt: s };
}

function readExecute(tokens: Token[], ctx: ReadContext): Read {
  if (isWord(tokens[1], 'IMMEDIATE')) {
    // MariaDB: EXECUTE IMMEDIATE 'text' runs the text now
    const s = make('execute', 'session', 'EXECUTE IMMEDIATE');
    const body = tokens[2];
    if (body?.kind === 'string' && (tokens.length === 3 || isWord(tokens[3], 'USING'))) {
      const inner = ctx.textOf(body.v);
      s.nested.push(...inner.statements);
      return { stmt: s, key: `${normalize(tokens)}\u0000${inner.key}` };
    }
    markOpaque(s, 'EXECUTE IMMEDIATE of SQL computed at run time');
    return { stmt: s };
  }
  const name = isName(tokens[1]) ? tokens[1].v.toLowerCase() : '';
  const s = make('execute', 'session', 'EXECUTE');
  s.prepared = name;
  // resolved against the session's PREPAREs by PreparedStatements; unknown until then
  markOpaque(s, `EXECUTE of prepared statement "${name}" whose body is not known`);
  return { stmt: s };
}

