// The MCP server's only way to a database: a pg connection to the gateway's OWN Postgres
// listener, as `user=<connection>` with the caller's own bearer token as password. So the
// one pipeline (identity, access, rules, reviews, strict recording, masking) judges and
// records every statement an agent sends, exactly as for psql, and the recorded session
// belongs to the caller. No privileged internal credential exists on this path.
//
// One pg connection per (caller's credential, connection): the 2026 MCP revision is
// stateless, so the caller's credential is what ties requests into one "MCP session";
// it ends after `idleMs` without a call, or when the gateway closes.
import { hash, randomBytes } from 'node:crypto';
import pg from 'pg';

export interface BridgeOptions {
  /** the gateway's Postgres listener */
  host: string;
  port: number;
  /** close a connection after this long without a call */
  idleMs: number;
  /** told when a connection (and so its recorded session) ends */
  onClosed?: (tag: string) => void;
  /** application_name of the sessions, before their tag (default `warden-mcp`, which MCP session tags look for) */
  applicationName?: string;
}

export interface QueryCaps {
  maxRows: number;
  maxBytes: number;
  timeoutMs: number;
}

export interface QueryOutcome {
  columns: { name: string; type: number }[];
  rows: (string | null)[][];
  /** rows the statement returned (or affected), even those not kept */
  rowCount: number;
  /** true when rows were dropped by the row or byte cap */
  truncated: boolean;
  command: string;
  /** the Warden session this connection is recorded in */
  sessionTag: string;
}

export class StatementTimeout extends Error {}

// Every value arrives as its Postgres text form: exactly what the masker saw and what the
// record holds, and JSON-safe (no Date objects, no lossy bigint -> number).
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

interface Entry {
  client: pg.Client;
  tag: string;
  /** statements on one connection run one at a time */
  chain: Promise<unknown>;
  timer: NodeJS.Timeout | null;
  closed: boolean;
}

export class PgBridge {
  private readonly entries = new Map<string, Promise<Entry>>();

  constructor(private readonly opts: BridgeOptions) {}

  /** Run one statement as the caller; `params` use the extended protocol. */
  async query(token: string, connection: string, sql: string, params: unknown[] | undefined, caps: QueryCaps): Promise<QueryOutcome> {
    const key = `${hash('sha256', token, 'hex')}\n${connection}`;
    let pending = this.entries.get(key);
    if (!pending) {
      pending = this.open(token, connection);
      this.entries.set(key, pending);
      pending.catch(() => this.entries.delete(key));
    }
    const e = await pending;
    if (e.timer) clearTimeout(e.timer);
    const run = e.chain.then(() => this.run(e, sql, params, caps));
    e.chain = run.catch(() => {});
    try {
      return await run;
    } finally {
      if (e.closed) {
        this.entries.delete(key);
        this.opts.onClosed?.(e.tag);
      }
      else e.timer = setTimeout(() => void this.drop(key), this.opts.idleMs).unref();
    }
  }

  private async open(token: string, connection: string): Promise<Entry> {
    // The tag makes the application_name unique, so the gateway can name the session.
    const tag = randomBytes(6).toString('hex');
    const client = new pg.Client({
      host: this.opts.host, port: this.opts.port, user: connection, database: connection, password: token,
      application_name: `${this.opts.applicationName ?? 'warden-mcp'} ${tag}`, ssl: false, types: asText,
    });
    const e: Entry = { client, tag, chain: Promise.resolve(), timer: null, closed: false };
    client.on('error', () => (e.closed = true));
    client.on('end', () => (e.closed = true));
    await client.connect();
    return e;
  }

  private run(e: Entry, sql: string, params: unknown[] | undefined, caps: QueryCaps): Promise<QueryOutcome> {
    return new Promise((resolve, reject) => {
      const rows: (string | null)[][] = [];
      let bytes = 0;
      let seen = 0;
      let truncated = false;
      // Rows stream in and only the first ones within the caps are kept: memory stays bounded.
      const q = e.client.query(new pg.Query({ text: sql, values: params, rowMode: 'array' } as pg.QueryConfig));
      const timer = setTimeout(() => {
        // pg cannot cancel through the gateway: closing the connection stops the statement
        // (and the next call opens a fresh, separately recorded session).
        e.closed = true;
        void e.client.end().catch(() => {});
        reject(new StatementTimeout(`the statement ran longer than ${caps.timeoutMs} ms and was stopped (the connection was reset)`));
      }, caps.timeoutMs);
      q.on('row', (row: (string | null)[]) => {
        seen++;
        if (truncated || rows.length >= caps.maxRows) return void (truncated = true);
        const size = row.reduce((n, v) => n + (v === null ? 4 : Buffer.byteLength(v)), 0);
        if (bytes + size > caps.maxBytes) return void (truncated = true);
        bytes += size;
        rows.push(row);
      });
      q.on('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
      q.on('end', (r: pg.QueryResult) => {
        clearTimeout(timer);
        const columns = (r?.fields ?? []).map((f) => ({ name: f.name, type: f.dataTypeID }));
        resolve({ columns, rows, rowCount: columns.length ? seen : (r?.rowCount ?? 0), truncated, command: r?.command ?? '', sessionTag: e.tag });
      });
    });
  }

  private async drop(key: string): Promise<void> {
    const p = this.entries.get(key);
    this.entries.delete(key);
    const e = await p?.catch(() => null);
    if (!e) return;
    if (!e.closed) {
      e.closed = true;
      await e.client.end().catch(() => {});
    }
    this.opts.onClosed?.(e.tag);
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((k) => this.drop(k)));
  }
}
