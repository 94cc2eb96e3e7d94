// Table and column names behind the table OIDs of a RowDescription, so that masking
// rules by `table.column` apply at the Postgres door, and an alias
// (`SELECT ssn AS x FROM people`) does not hide a column from a rule by name.
//
// The client's own session is busy streaming the result that needs the names, so they
// are looked up on a short connection of the gateway's own to the same target (same
// credentials, same agent), and cached per connection: a table costs one lookup per
// `ttlMs`, whichever session asks first. A failed lookup is cached too (briefly) as
// "unknown", and masking then treats table-qualified rules as rules by column name:
// masking too much rather than too little.
import { HandshakeReader } from './handshake-reader.ts';
import { decodeBackend, encodeFrontend } from './messages.ts';
import type { UpstreamSession } from './upstream.ts';

export interface TableNames {
  schema: string;
  table: string;
  /** attribute number -> column name (dropped columns left out) */
  columns: Map<number, string>;
  /** attribute number -> type OID */
  types: Map<number, number>;
  /** pg_class.relkind: `r` table, `v` view, `m` materialized view, ... */
  kind?: string;
  /** a view's (or materialized view's) SELECT, as the target prints it: what its columns carry */
  definition?: string;
}

/** A table as a statement names it: `people`, `hr.staff`. */
export interface TableName {
  schema?: string;
  name: string;
}

export interface CatalogOptions {
  /** how long names are trusted (columns can be renamed) */
  ttlMs?: number;
  /** how long a failed lookup stands before the next one is tried */
  failureTtlMs?: number;
  /** a lookup that takes longer counts as failed (the result it holds up waits meanwhile) */
  timeoutMs?: number;
  /** told about each failed lookup */
  onFailure?: (e: Error) => void;
}

/** Runs one simple query and returns its rows as text. */
export type CatalogQuery = (sql: string) => Promise<(string | null)[][]>;

interface Entry {
  names: TableNames | null;
  expires: number;
}

export class TableCatalog {
  private readonly tables = new Map<number, Entry>();
  private readonly loading = new Map<number, Promise<void>>();
  private readonly ttlMs: number;
  private readonly failureTtlMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly query: CatalogQuery,
    private readonly opts: CatalogOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.failureTtlMs = opts.failureTtlMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  /**
   * The table's names; null when the lookup failed; undefined when not looked up (or
   * expired). `now` lets a caller asking about every column of a result read the clock once.
   */
  get(oid: number, now = Date.now()): TableNames | null | undefined {
    return current(this.tables, oid, now)?.names;
  }

  /** The table OIDs among `fields` with no current answer (0 means "not a table column"). */
  missing(fields: readonly { tableOid: number }[]): number[] {
    let out: number[] | null = null;
    const now = Date.now();
    for (const f of fields) {
      if (f.tableOid !== 0 && this.get(f.tableOid, now) === undefined && !out?.includes(f.tableOid)) (out ??= []).push(f.tableOid);
    }
    return out ?? [];
  }

  /** Look the tables up. Never rejects: a table that cannot be looked up is cached as unknown. */
  load(oids: number[]): Promise<void> {
    const fresh = oids.filter((o) => !this.loading.has(o));
    const waits = oids.filter((o) => this.loading.has(o)).map((o) => this.loading.get(o)!);
    if (fresh.length) {
      const p = this.lookup(fresh).finally(() => {
        for (const o of fresh) this.loading.delete(o);
      });
      for (const o of fresh) this.loading.set(o, p);
      waits.push(p);
    }
    return Promise.all(waits).then(() => undefined);
  }

  /**
   * The OID of a table named as a statement names it (COPY people ...), resolved in the
   * session's search path when given (else the target's default one); null when it has
   * none; undefined when not asked yet (or expired).
   */
  oidOf(t: TableName, now = Date.now(), searchPath: readonly string[] | null = null): number | null | undefined {
    return current(this.names, nameKey(t, searchPath), now)?.oid;
  }

  /** Resolve a table's name to its OID, then load its names. Never rejects. */
  async loadByName(t: TableName, searchPath: readonly string[] | null = null): Promise<void> {
    const key = nameKey(t, searchPath);
    let oid: number | null = null;
    try {
      // E'' quoting holds whatever standard_conforming_strings says; the identifiers are quoted for to_regclass.
      const literal = (name: string) => `E'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      // An unqualified name is the first schema of the session's path that has it, as the server reads it.
      const candidates = t.schema === undefined && searchPath ? searchPath.map((schema) => tableKey({ schema, name: t.name })) : [tableKey(t)];
      const sql = `SELECT COALESCE(${candidates.map((c) => `pg_catalog.to_regclass(${literal(c)})`).join(', ')})::pg_catalog.oid`;
      const rows = await withTimeout(this.query(sql), this.timeoutMs, 'the table lookup timed out');
      oid = rows[0]?.[0] ? Number(rows[0][0]) : null;
    } catch (e) {
      this.opts.onFailure?.(e as Error);
    }
    this.names.set(key, { oid, expires: Date.now() + (oid !== null ? this.ttlMs : this.failureTtlMs) });
    if (oid !== null) await this.load([oid]);
  }

  /** Resolve several names in one lookup (a statement's tables), then load their names. Never rejects. */
  async loadByNames(list: readonly TableName[], searchPath: readonly string[] | null = null): Promise<void> {
    const byKey = new Map<string, TableName>();
    for (const t of list) byKey.set(nameKey(t, searchPath), t);
    if (!byKey.size) return;
    const found = new Map<string, number>();
    try {
      // E'' quoting holds whatever standard_conforming_strings says; the identifiers are quoted for to_regclass.
      const literal = (text: string) => `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      // An unqualified name is the first schema of the session's path that has it, as the server reads it.
      // One row per name: the name as written (every name of one call shares the path), its OID.
      const keyOf = new Map<string, string>();
      const lookups = [...byKey].map(([key, t]) => {
        keyOf.set(tableKey(t), key);
        const candidates = t.schema === undefined && searchPath ? searchPath.map((schema) => tableKey({ schema, name: t.name })) : [tableKey(t)];
        return `SELECT ${literal(tableKey(t))}::pg_catalog.text, COALESCE(${candidates.map((c) => `pg_catalog.to_regclass(${literal(c)})`).join(', ')})::pg_catalog.oid`;
      });
      const rows = await withTimeout(this.query(lookups.join(' UNION ALL ')), this.timeoutMs, 'the table lookup timed out');
      for (const [name, oid] of rows) {
        const key = name === null ? undefined : keyOf.get(name);
        if (key !== undefined && oid) found.set(key, Number(oid));
      }
    } catch (e) {
      this.opts.onFailure?.(e as Error);
    }
    const now = Date.now();
    for (const k of byKey.keys()) {
      const oid = found.get(k) ?? null;
      this.names.set(k, { oid, expires: now + (oid !== null ? this.ttlMs : this.failureTtlMs) });
    }
    const oids = [...new Set(found.values())].filter((o) => this.get(o, now) === undefined);
    if (oids.length) await this.load(oids);
  }

  /**
   * Forget every name: the target's definitions changed (a session ran DDL through the
   * gateway: a view replaced, a table renamed), so what a column carries may have too.
   */
  forget(): void {
    this.tables.clear();
    this.names.clear();
  }

  private readonly names = new Map<string, { oid: number | null; expires: number }>();

  private async lookup(oids: number[]): Promise<void> {
    // OIDs come from the target's own RowDescription as uint32; checked anyway, they are the only input of the SQL.
    const list = oids.filter((o) => Number.isInteger(o) && o > 0 && o <= 0xffffffff);
    const sql =
      // A view's definition once (on its first column's row), for masking what its columns carry.
      "SELECT c.oid, n.nspname, c.relname, a.attnum, a.attname, a.atttypid, c.relkind, CASE WHEN c.relkind IN ('v', 'm') AND a.attnum = 1 " +
      'THEN pg_catalog.pg_get_viewdef(c.oid) END FROM pg_catalog.pg_class c ' +
      'JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ' +
      'LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ' +
      `WHERE c.oid = ANY ('{${list.join(',')}}'::pg_catalog.oid[])`;
    let rows: (string | null)[][] | null = null;
    try {
      rows = await withTimeout(this.query(sql), this.timeoutMs, 'the table lookup timed out');
    } catch (e) {
      this.opts.onFailure?.(e as Error);
    }
    const found = new Map<number, TableNames>();
    for (const [oid, schema, table, attnum, column, type, kind, definition] of rows ?? []) {
      const key = Number(oid);
      let t = found.get(key);
      if (!t) found.set(key, (t = { schema: schema ?? '', table: table ?? '', columns: new Map(), types: new Map(), ...(kind ? { kind } : {}) }));
      if (definition) t.definition = definition;
      if (attnum !== null && column !== null) {
        t.columns.set(Number(attnum), column);
        t.types.set(Number(attnum), Number(type));
      }
    }
    const now = Date.now();
    // A table the target does not know (dropped since) is as unknown as a failed lookup.
    for (const o of oids) {
      const names = found.get(o) ?? null;
      this.tables.set(o, { names, expires: now + (names ? this.ttlMs : this.failureTtlMs) });
    }
  }
}

/** The entry of `key` while it has not expired; an expired one is dropped. */
export function current<K, E extends { expires: number }>(map: Map<K, E>, key: K, now: number): E | undefined {
  const e = map.get(key);
  if (e && e.expires < now) {
    map.delete(key);
    return undefined;
  }
  return e;
}

/** The cache key of a name looked up in a search path. */
function nameKey(t: TableName, searchPath: readonly string[] | null): string {
  return t.schema === undefined && searchPath ? `${tableKey(t)}\u0000${searchPath.join('\u0000')}` : tableKey(t);
}

/** `"hr"."staff"`: the name to_regclass reads, each part quoted as an identifier. */
function tableKey(t: TableName): string {
  const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
  return t.schema !== undefined ? `${quote(t.schema)}.${quote(t.name)}` : quote(t.name);
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * A CatalogQuery that opens its own session to the target for each lookup (lookups are
 * rare: once per table per TTL) and closes it after.
 */
export function catalogQueryOver(open: () => Promise<UpstreamSession>): CatalogQuery {
  return async (sql) => {
    const session = await open();
    const socket = session.socket;
    const reader = new HandshakeReader(socket);
    try {
      socket.write(encodeFrontend({ type: 'Query', text: sql }));
      const rows: (string | null)[][] = [];
      let error: string | null = null;
      for (;;) {
        const m = await reader.message(true);
        const msg = decodeBackend(m.type, m.payload, 0, m.payload.length);
        if (msg.type === 'DataRow') rows.push(msg.values.map((v) => (v === null ? null : v.toString('utf8'))));
        else if (msg.type === 'ErrorResponse') error = msg.fields.M ?? 'error';
        else if (msg.type === 'ReadyForQuery') break;
      }
      if (error !== null) throw new Error(`the table lookup failed: ${error}`);
      return rows;
    } finally {
      reader.detach();
      socket.on('error', () => {}); // nothing more is read from it
      socket.end(encodeFrontend({ type: 'Terminate' }));
    }
  };
}
