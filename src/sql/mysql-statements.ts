// MySQL statements Warden reads from their tokens instead of node-sql-parser's grammar:
// the ones the grammar does not know (SHOW variants, KILL, HANDLER, PREPARE, FLUSH...) and
// the ones whose meaning for Warden lies in a detail the grammar drops (which session
// variable a SET changes, whether LOAD DATA is LOCAL, what a PREPARE's string runs). Every
// expression inside them (a SET's value, a SHOW's WHERE) is still read by the parser; one
// it cannot read makes the statement opaque. Statements not handled here go to the parser.
import { lexModeOf, normalize, UNREADABLE_CHARSETS, type LexMode, type Token } from './mysql-lexer.ts';
import { addFunction, addTable, fileCopy, markOpaque, newStatement } from './mysql-walk.ts';
import { flattenStatements, type Category, type Statement, type StatementKind } from './types.ts';

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

const isName = (t: Token | undefined): t is Token => t !== undefined && (t.kind === 'word' || t.kind === 'ident');
const isOp = (t: Token | undefined, v: string) => t !== undefined && t.kind === 'op' && t.v === v;
const isWord = (t: Token | undefined, ...words: string[]) => t !== undefined && t.kind === 'word' && words.includes(t.u);

/** A possibly qualified name at `i`: `db.t`, `t`, `` `d`.`t` `` */
function qname(tokens: Token[], i: number): { name: string; schema?: string; next: number } | null {
  const a = tokens[i];
  if (!isName(a)) return null;
  if (isOp(tokens[i + 1], '.') && (isName(tokens[i + 2]) || isOp(tokens[i + 2], '*'))) return { schema: a.v, name: tokens[i + 2]!.v, next: i + 3 };
  return { name: a.v, next: i + 1 };
}

/** Index of the first token at depth 0 from `from` matching `test`, or -1. */
function findTop(tokens: Token[], from: number, test: (t: Token) => boolean): number {
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
function splitTop(tokens: Token[], from: number, to = tokens.length): Token[][] {
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

const has = (tokens: Token[], word: string, from = 0) => tokens.some((t, i) => i >= from && t.kind === 'word' && t.u === word);

function make(kind: StatementKind, category: Category, node: string): Statement {
  return newStatement(kind, category, node);
}

/** Names after `from`, separated by commas (DROP TABLE a, b.c; LOCK TABLES ...), up to a word in `stop`. */
function nameList(stmt: Statement, tokens: Token[], from: number, stop: string[] = []): void {
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

export function opaqueStatement(node: string, reason: string): Statement {
  const s = make('unknown', 'unknown', node);
  markOpaque(s, reason);
  return s;
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
      name = null; // a user variable: no effect on the server's reading of anything
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

function deallocate(tokens: Token[], at: number): Statement {
  const name = isName(tokens[at]) ? tokens[at].v.toLowerCase() : '';
  const s = make('deallocate', 'session', 'DEALLOCATE PREPARE');
  s.prepared = name;
  s.effect = { deallocate: name };
  return s;
}

// ---- the rest -----------------------------------------------------------------------------------

function readHandler(tokens: Token[], ctx: ReadContext): Statement {
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

function readCall(tokens: Token[], ctx: ReadContext): Statement {
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

function readLoad(tokens: Token[], ctx: ReadContext): Statement {
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

function maintenance(kind: StatementKind, tokens: Token[]): Statement {
  const s = make(kind, 'admin', `${tokens[0]!.u} TABLE`);
  const t = findTop(tokens, 1, (x) => isWord(x, 'TABLE', 'TABLES', 'VIEW'));
  if (t >= 0) nameList(s, tokens, t + 1, ['PERSISTENT', 'QUICK', 'FAST', 'MEDIUM', 'EXTENDED', 'CHANGED', 'FOR', 'USE_FRM']);
  return s;
}

function readGrant(tokens: Token[]): Statement {
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

function readDrop(tokens: Token[]): Statement {
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
function readDdl(tokens: Token[], ctx: ReadContext): Read | null {
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
