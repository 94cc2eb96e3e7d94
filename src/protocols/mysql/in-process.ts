// An in-process client of the MySQL door (MCP tools, `warden exec`): the mysql2 driver over an
// in-process pipe into the same relay a network client gets, for a caller the gateway has
// already admitted. Values come back as the text the target sent (what the masker saw and
// the record holds). A statement past its time is stopped the way a client does it: KILL
// QUERY on a second session of the same caller, judged and recorded like any command.
import mysql from 'mysql2';
import type { Identity } from '../../identity/types.ts';
import type { MysqlConnectionConfig } from '../../config/schema.ts';
import type { Protocol, SessionObserver } from '../../session/types.ts';
import { inProcessPipe } from '../in-process-pipe.ts';
import { CappedRows } from '../capped-rows.ts';
import { StatementTimeout, TargetError, type InProcessSession, type QueryCaps, type RunRows } from '../engine.ts';
import type { MysqlFrontDoor } from './listener.ts';

interface MysqlError {
  message?: string;
  code?: string;
  errno?: number;
  sqlState?: string;
  sqlMessage?: string;
}

type Attach = { identity: Identity; connection: MysqlConnectionConfig; protocol: Protocol; clientAddr: string; observer: SessionObserver };

function connect(door: MysqlFrontDoor, a: Attach): Promise<mysql.Connection> {
  const [client, server] = inProcessPipe();
  const conn = mysql.createConnection({
    stream: client as never, user: a.connection.name, password: '', database: a.connection.database, rowsAsArray: true,
    // every value as the text the target sent; a binary value is read as latin1 so no byte is lost
    typeCast: (field) => (field.type === 'BLOB' || field.type === 'GEOMETRY' ? (field.buffer()?.toString('latin1') ?? null) : field.string()),
    multipleStatements: false, connectAttributes: { program_name: `warden-${a.protocol}` },
  } as mysql.ConnectionOptions);
  void door.attach(server, a);
  return new Promise((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve(conn))));
}

export async function openMysqlInProcess(door: MysqlFrontDoor, a: Attach): Promise<InProcessSession> {
  const conn = await connect(door, a);
  let closed = false;
  conn.on('error', () => (closed = true));
  conn.on('end', () => (closed = true));

  const kill = async () => {
    const killer = await connect(door, { ...a, observer: {} });
    await killer.promise().query(`KILL QUERY ${conn.threadId}`).catch(() => {});
    killer.destroy();
  };

  const query = (sql: string, params: unknown[] | undefined, caps: QueryCaps): Promise<RunRows> =>
    new Promise((resolve, reject) => {
      const kept = new CappedRows(caps);
      let columns: RunRows['columns'] = [];
      let timedOut = false;
      let status: { affectedRows?: number; info?: string } | null = null;
      const timer = setTimeout(() => {
        timedOut = true;
        void kill().catch(() => {});
      }, caps.timeoutMs);
      const q = conn.query(params?.length ? withLiterals(sql, params) : sql);
      q.on('fields', (fields: { name: string; columnType?: number; type?: number }[] | undefined) => (columns = (fields ?? []).map((f) => ({ name: f.name, type: Number(f.columnType ?? f.type ?? 0) }))));
      q.on('result', (row: unknown) => {
        if (!Array.isArray(row)) return void (status = row as typeof status);
        kept.add(row as (string | null)[]);
      });
      q.on('error', (e: MysqlError) => {
        clearTimeout(timer);
        if (timedOut && e.errno === 1317) return reject(new StatementTimeout(`the statement ran longer than ${caps.timeoutMs} ms and was stopped`));
        reject(new TargetError(e.sqlMessage ?? e.message ?? String(e), e.sqlState ?? e.code ?? null));
      });
      q.on('end', () => {
        clearTimeout(timer);
        if (timedOut && !columns.length && !status) return reject(new StatementTimeout(`the statement ran longer than ${caps.timeoutMs} ms and was stopped`));
        resolve({ columns, rows: kept.rows, rowCount: columns.length ? kept.seen : (status?.affectedRows ?? 0), truncated: kept.truncated, command: columns.length ? 'SELECT' : 'OK' });
      });
    });

  return {
    query,
    get closed() {
      return closed;
    },
    async close() {
      closed = true;
      await new Promise<void>((resolve) => conn.end(() => resolve()));
    },
  };
}

/**
 * `?` placeholders as literals that read the same under every sql_mode: a string as a hex
 * literal in utf8mb4, so no quote or backslash in it is read as SQL (a client-side escape
 * with backslashes is undone by a session in NO_BACKSLASH_ESCAPES). The SQL is Warden's own
 * (the catalogue query); the values may be an agent's.
 */
export function withLiterals(sql: string, params: readonly unknown[]): string {
  let i = 0;
  return sql.replace(/\?/g, () => {
    if (i >= params.length) throw new Error('more placeholders than values');
    const v = params[i++];
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'bigint') return v.toString();
    return `CONVERT(X'${Buffer.from(String(v), 'utf8').toString('hex')}' USING utf8mb4)`;
  });
}
