// The Postgres engine: its door, its refusal codes, its catalogue query, its in-process client.
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import type { Detail, Engine, EngineDeps } from '../engine.ts';
import { PostgresFrontDoor } from './listener.ts';
import { postgresRefusal } from './admission-codes.ts';
import { openPostgresInProcess } from './in-process.ts';

const USER_SCHEMAS = `table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%'`;

export function describePostgres(detail: Detail, pattern: string, limit: number): { sql: string; params: unknown[] } {
  const match = `(table_name ILIKE $1 OR table_schema || '.' || table_name ILIKE $1)`;
  const sql = {
    names: `SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE ${USER_SCHEMAS} AND ${match} ORDER BY 1, 2 LIMIT ${limit}`,
    summary: `SELECT table_schema, table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE ${USER_SCHEMAS} AND ${match} GROUP BY 1, 2 ORDER BY 1, 2 LIMIT ${limit}`,
    full: `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE ${USER_SCHEMAS} AND ${match} ORDER BY 1, 2, ordinal_position LIMIT ${limit}`,
  }[detail];
  return { sql, params: [pattern] };
}

export function postgresEngine(deps: EngineDeps<PostgresConnectionConfig>): Engine<PostgresConnectionConfig> {
  const door = new PostgresFrontDoor({
    admit: deps.admit,
    openSession: deps.openSession,
    searchPathMatters: deps.readsSchemas,
    dial: deps.dial,
    tls: deps.tls,
    handshake: deps.handshake,
    onRefused: deps.onRefused,
    maxMessageBytes: deps.maxMessageBytes,
    limits: deps.limits,
    log: deps.log,
    connectionIds: deps.connectionIds,
    cancelElsewhere: deps.cancelElsewhere,
  });
  return {
    type: 'postgres',
    listen: (host, port, opts) => door.listen(host, port, opts?.reusePort),
    cancel: (pid, key) => door.cancel(pid, key),
    close: () => door.close(),
    get activeSessions() {
      return door.activeSessions;
    },
    get pendingHandshakes() {
      return door.pendingHandshakes;
    },
    refuse(r) {
      const w = postgresRefusal(r);
      return { code: w.sqlstate, message: w.message };
    },
    describe: describePostgres,
    open: (a) => openPostgresInProcess(door, a),
  };
}
