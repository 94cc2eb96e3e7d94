// The MySQL / MariaDB engine: its door, its refusal codes, its catalogue query, its in-process client.
import type { MysqlConnectionConfig } from '../../config/schema.ts';
import type { Detail, Engine, EngineDeps } from '../engine.ts';
import { MysqlFrontDoor } from './listener.ts';
import { mysqlRefusal } from './admission-codes.ts';
import { loadOrCreateRsaKeys } from './auth.ts';
import { openMysqlInProcess } from './in-process.ts';

const USER_SCHEMAS = `table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`;

export function describeMysql(detail: Detail, pattern: string, limit: number): { sql: string; params: unknown[] } {
  // LIKE under the default collations ignores case, as ILIKE does on Postgres.
  const match = `(table_name LIKE ? OR CONCAT(table_schema, '.', table_name) LIKE ?)`;
  const sql = {
    names: `SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE ${USER_SCHEMAS} AND ${match} ORDER BY 1, 2 LIMIT ${limit}`,
    summary: `SELECT table_schema, table_name, GROUP_CONCAT(CONCAT(column_name, ' ', column_type) ORDER BY ordinal_position SEPARATOR ', ') FROM information_schema.columns WHERE ${USER_SCHEMAS} AND ${match} GROUP BY 1, 2 ORDER BY 1, 2 LIMIT ${limit}`,
    full: `SELECT table_schema, table_name, column_name, column_type, is_nullable, column_default FROM information_schema.columns WHERE ${USER_SCHEMAS} AND ${match} ORDER BY 1, 2, ordinal_position LIMIT ${limit}`,
  }[detail];
  return { sql, params: [pattern, pattern] };
}

export function mysqlEngine(deps: EngineDeps<MysqlConnectionConfig>): Engine<MysqlConnectionConfig> {
  const door = new MysqlFrontDoor({
    admit: deps.admit,
    nativeKnown: deps.nativeKnown,
    openSession: deps.openSession,
    handshake: deps.handshake,
    onRefused: deps.onRefused,
    dial: deps.dial,
    tls: deps.tls,
    rsa: loadOrCreateRsaKeys(deps.dataDir),
    maxMessageBytes: deps.maxMessageBytes,
    limits: deps.limits,
    log: deps.log,
    probe: deps.connections[0],
    connectionIds: deps.connectionIds,
    killElsewhere: deps.killElsewhere,
  });
  return {
    type: 'mysql',
    listen: (host, port, opts) => door.listen(host, port, opts?.reusePort),
    close: () => door.close(),
    get activeSessions() {
      return door.activeSessions;
    },
    get pendingHandshakes() {
      return door.pendingHandshakes;
    },
    refuse(r) {
      const w = mysqlRefusal(r);
      return { code: String(w.code), message: w.message };
    },
    describe: describeMysql,
    killTarget: (id, by, connection) => door.killTarget(id, by, connection),
    open: (a) => openMysqlInProcess(door, a),
  };
}
