// What Warden knows of a SQL command after parsing it: one entry per statement, each with
// the statements it runs besides itself (data-modifying CTEs, EXPLAIN ANALYZE targets,
// PREPARE bodies). The policy judges every one of them; nothing here decides anything.

export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'merge',
  'create', 'alter', 'drop', 'truncate', 'grant', 'revoke',
  'copy', 'set_role', 'set', 'show', 'do', 'call', 'transaction',
  'prepare', 'execute', 'deallocate', 'explain', 'listen', 'notify',
  'vacuum', 'analyze', 'lock', 'declare', 'fetch', 'refresh', 'checkpoint', 'load',
  'other', 'unknown',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** Coarse families, for rules like "read-only": `session` is SET/SHOW-like state of the connection. */
export const CATEGORIES = ['read', 'write', 'ddl', 'admin', 'transaction', 'session', 'unknown'] as const;
export type Category = (typeof CATEGORIES)[number];

/** A relation as written: `schema` only when the statement qualified it (search_path decides otherwise). */
export interface TableRef {
  schema?: string;
  name: string;
}

/** A function called by name; `schema` only when qualified. */
export interface FunctionRef {
  schema?: string;
  name: string;
}

export interface CopyInfo {
  /** `from`: rows flow into the table (a write); `to`: out of it (a read) */
  direction: 'from' | 'to';
  /** COPY ... PROGRAM: runs a shell command on the database server */
  program: boolean;
  /** COPY to or from a server-side file (not STDIN/STDOUT) */
  file: boolean;
  /** the table copied (absent for COPY (query)) */
  relation?: { schema?: string; name: string };
  /** the column list, when the statement gives one */
  columns?: string[];
  /** how rows are written: text (tab-separated), csv or binary */
  format: 'text' | 'csv' | 'binary';
  /** csv/text field separator (text: tab, csv: comma unless set) */
  delimiter: string;
  /** csv quote character (default '"') */
  quote: string;
  /** csv escape character inside quotes (default: the quote, doubled) */
  escape: string;
  /** csv: the first row names the columns */
  header: boolean;
}

/**
 * What running a statement changes in its session's server-side state (see pg-effects.ts).
 * Names are as the parser read them (folded); '*' stands for "all".
 */
export interface SessionEffect {
  /** PREPARE name: a prepared statement appears (the namespace protocol Parse shares) */
  prepare?: string;
  /** DEALLOCATE name | ALL ('*'), DISCARD ALL ('*') */
  deallocate?: string;
  /** DECLARE name CURSOR: a portal appears */
  declare?: string;
  /** CLOSE name | ALL ('*'), DISCARD ALL ('*') */
  close?: string;
  /** may change the effective search_path (SET/RESET, set_config, temp objects, schemas, DISCARD) */
  searchPath?: boolean;
  /** may change how the server reads statement text (standard_conforming_strings: SET, RESET ALL, set_config) */
  textSettings?: boolean;
  /** may change which functions exist or what they run (function, extension, cast DDL) */
  functions?: boolean;
  /** the name of a function this statement creates (or renames to) */
  definesFunction?: string;
  /** ends (or rolls back part of) a transaction: what it changed may revert */
  transactionEnd?: boolean;
  /**
   * may change how the server reads the text of later statements (MySQL: sql_mode's
   * ANSI_QUOTES and NO_BACKSLASH_ESCAPES, the client character set)
   */
  syntax?: boolean;
}

export interface Statement {
  kind: StatementKind;
  category: Category;
  /** the parser's node type (`DeleteStmt`), for records and for kinds folded into `other` */
  node: string;
  tables: TableRef[];
  functions: FunctionRef[];
  /** an UPDATE or DELETE without a WHERE clause (every row) */
  noWhere: boolean;
  copy?: CopyInfo;
  /** what it really does cannot be known from its text (DO blocks, dynamic-SQL functions, unknown EXECUTE) */
  opaque: boolean;
  opaqueReason?: string;
  /** the prepared statement named by PREPARE / EXECUTE / DEALLOCATE */
  prepared?: string;
  /** statements this one runs besides itself, judged on their own */
  nested: Statement[];
  /** what running it changes in the session's server-side state, when anything */
  effect?: SessionEffect;
  /**
   * Functions it calls that are not the target's built-ins (set by the guard from the
   * target's catalog, on a copy: classifications are shared). Such a call can do anything,
   * so the statement is opaque unless a rule names these functions.
   */
  userFunctions?: FunctionRef[];
  /** an HTTP request's facts (http connections): its method and path, query included */
  http?: { method: string; path: string } & HttpRequestFacts;
  /** a shell command's words (ssh connections) */
  ssh?: { argv: string[] };
  /** a forwarded connection through an ssh connection (port or agent forwarding) */
  forward?: ForwardFacts;
  /** true when the statement is opaque only because of `userFunctions` */
  opaqueByFunctions?: boolean;
}

export interface Classification {
  /**
   * The text with literal constants replaced by `$n` (the real parser's normalization):
   * the cache key, equal for commands that differ only in literal values. Empty when the
   * text could not be parsed.
   */
  key: string;
  /** sha-256 (16 hex) of `key`: a short id for grouping in records and metrics; '' on error */
  fingerprint: string;
  statements: Statement[];
  /** the parse error, when the text is not valid SQL (statements then hold one `unknown`) */
  error?: string;
  /** true when some statement EXECUTEs a prepared statement: its meaning depends on the session */
  hasExecute: boolean;
  /**
   * set on a copy annotated with what the target says (database-defined functions), or when
   * facts beyond the text decide (an HTTP request's headers and body): not cacheable by text
   */
  targetDependent?: boolean;
}

/** Every statement, nested ones included, depth first: the units a policy judges. */
export function flattenStatements(list: readonly Statement[], out: Statement[] = []): Statement[] {
  for (const s of list) {
    out.push(s);
    if (s.nested.length) flattenStatements(s.nested, out);
  }
  return out;
}

export function formatName(ref: TableRef | FunctionRef): string {
  return ref.schema ? `${ref.schema}.${ref.name}` : ref.name;
}

/**
 * What an HTTP request carries besides its request line, for rules over headers and the JSON
 * body (the query is read from the command text).
 */
/**
 * One forwarded connection (or the request for one) through an SSH door: `local` (ssh -L, -D:
 * the target connects to host:port), `remote` (ssh -R: the target listens on host:port, the
 * bind address as asked), `agent` (ssh -A: the target's processes use the caller's agent).
 */
export type ForwardFacts = { kind: 'local' | 'remote'; host: string; port: number } | { kind: 'agent' };

export interface HttpRequestFacts {
  /** header values by lower-case name; a header sent twice has every value */
  headers?: Record<string, string[]>;
  /**
   * The body as the target will parse it, read only when a rule needs it: `json` its value,
   * `none` no body at all, `opaque` why it cannot be read (over the cap, not JSON,
   * compressed, a key twice in one object); absent when it was not read.
   */
  body?: { json: unknown } | { none: true } | { opaque: string };
  /** the protocol the request asks to switch to (`websocket`): messages then flow both ways */
  upgrade?: string;
}
