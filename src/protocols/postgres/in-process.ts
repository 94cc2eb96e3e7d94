// An in-process client of the Postgres door (MCP tools, `warden exec`): the pg driver over an
// in-process pipe into the same relay a network client gets, for a caller the gateway has
// already admitted. Values arrive as Postgres text: what the masker saw, what the record
// holds, and JSON-safe. Rows stream in and only those within the caps are kept.
import pg from 'pg';
import type { Identity } from '../../identity/types.ts';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import type { Protocol, SessionObserver } from '../../session/types.ts';
import { inProcessPipe } from '../in-process-pipe.ts';
import { CappedRows } from '../capped-rows.ts';
import { StatementTimeout, TargetError, type InProcessSession, type QueryCaps, type RunRows } from '../engine.ts';
import type { PostgresFrontDoor } from './listener.ts';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

interface PgError {
  message?: string;
  code?: string;
  detail?: string;
  hint?: string;
}

export async function openPostgresInProcess(
  door: PostgresFrontDoor,
  a: { identity: Identity; connection: PostgresConnectionConfig; protocol: Protocol; clientAddr: string; observer: SessionObserver },
): Promise<InProcessSession> {
  const [client, server] = inProcessPipe();
  const pgc = new pg.Client({ stream: () => client, user: a.connection.name, database: a.connection.database, application_name: `warden-${a.protocol}`, types: asText } as pg.ClientConfig);
  let closed = false;
  pgc.on('error', () => (closed = true));
  pgc.on('end', () => (closed = true));
  void door.attach(server, a);
  await pgc.connect();
  const keys = pgc as unknown as { processID: number; secretKey: number };

  const query = (sql: string, params: unknown[] | undefined, caps: QueryCaps): Promise<RunRows> =>
    new Promise((resolve, reject) => {
      const kept = new CappedRows(caps);
      let timedOut = false;
      const q = pgc.query(new pg.Query({ text: sql, values: params, rowMode: 'array' } as pg.QueryConfig));
      // The target cancels the statement (through the door's cancel path); the session goes on.
      const timer = setTimeout(() => {
        timedOut = true;
        void door.cancel(keys.processID, keys.secretKey).catch(() => {});
      }, caps.timeoutMs);
      q.on('row', (row: (string | null)[]) => kept.add(row));
      q.on('error', (e: PgError) => {
        clearTimeout(timer);
        if (timedOut) return reject(new StatementTimeout(`the statement ran longer than ${caps.timeoutMs} ms and was cancelled`));
        reject(new TargetError(e.message ?? String(e), e.code ?? null, e.detail ?? null, e.hint ?? null));
      });
      q.on('end', (r: pg.QueryResult) => {
        clearTimeout(timer);
        const columns = (r?.fields ?? []).map((f) => ({ name: f.name, type: f.dataTypeID }));
        resolve({ columns, rows: kept.rows, rowCount: columns.length ? kept.seen : (r?.rowCount ?? 0), truncated: kept.truncated, command: r?.command ?? '' });
      });
    });

  return {
    query,
    get closed() {
      return closed;
    },
    async close() {
      closed = true;
      await pgc.end().catch(() => {});
    },
  };
}
