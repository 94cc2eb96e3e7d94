// The conformance suite's MySQL driver: the mysql2 driver (text protocol, rows as text)
// against the machine's MariaDB, raw packets for what no driver sends, and a private
// mariadbd whose general log is the ground truth of what it executed; the door served by
// the main thread or by data-plane worker threads (gateway.workers).
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestGateway, localMysql } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { rawMysqlConnect } from '../helpers/raw-mysql.ts';
import { startMariadb } from '../helpers/mariadb-server.ts';
import { decodeErr } from '../../src/protocols/mysql/messages.ts';
import type { ConformanceClient, ConformanceDriver, KillDriver } from './suite.ts';

const db = `warden_conf_${process.pid}`;
const root = (sql: string, database?: string) => run('mysql', ['-h', '127.0.0.1', '-uroot', '-N', '-B', ...(database ? ['-D', database] : []), '-e', sql]);

// Every value as the text the server sent (NULL as null), as the suite compares rows.
const asText: mysql.TypeCast = (field) => field.string();

/** The mysql2 connection behind a conformance client. */
const clients = new WeakMap<ConformanceClient, mysql.Connection>();

async function open(port: number, token: string): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'conf', password: token, rowsAsArray: true, typeCast: asText });
  conn.on('error', () => {}); // a connection the target ends emits one; closed() reports it
  return conn;
}

// Made on first use, not in a top-level before(): node runs a file's top-level before hooks
// without waiting for one another, and the suite's own before reads this database.
let created: Promise<void> | null = null;
const ensureDatabase = () =>
  (created ??= root(`DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}`).then((r) => assert.equal(r.code, 0, r.stderr)));

/** `gateway`: keys of the gateway section every gateway of the suite gets (e.g. workers). */
export const mysqlConformance = (name: string, gateway: Record<string, unknown> = {}): ConformanceDriver => ({
  name,
  startGateway: (rules, extra) => {
    // A MySQL packet header announces at most 16 MiB − 1: a single header can only claim more
    // than the gateway's limit when the limit is below that (the default 64 MiB is reached
    // only by continuation packets), so this gateway's limit is set low enough for one.
    return startTestGateway({ connections: [localMysql('conf', { database: db, ...extra?.connection })], rules, gateway: { maxMessageBytes: 1 << 20, ...gateway, ...extra?.gateway } });
  },
  async connect(t, identity, opts) {
    const token = opts?.token ?? (await t.token(['dev'], identity));
    const conn = await open(t.mysqlPort, token);
    let closedWith: (e: Error | null) => void = () => {};
    const closed = new Promise<Error | null>((resolve) => (closedWith = resolve));
    conn.on('error', (e: Error) => closedWith(e));
    // strict on purpose: a bare close ('end' before any 'error') counts as the client not told
    conn.on('end', () => closedWith(null));
    const c: ConformanceClient = {
      query: async (sql) => (await conn.query({ sql, rowsAsArray: true }))[0] as (string | null)[][],
      // KILL QUERY on a second connection of the same caller, with the id this client got in
      // its handshake (the gateway's id; the door maps it to the target's)
      async cancel() {
        const killer = await open(t.mysqlPort, token);
        try {
          await killer.query(`KILL QUERY ${conn.threadId}`);
        } finally {
          await killer.end();
        }
      },
      closed: () => closed,
      end: () => conn.end(),
    };
    clients.set(c, conn);
    return c;
  },
  async cleanup() {
    await root(`DROP DATABASE IF EXISTS ${db}`);
  },
  async direct(sql) {
    await ensureDatabase();
    const r = await root(sql, db);
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  },
  async malformed(t, identity) {
    const token = await t.token(['dev'], identity);
    const errorOf = async (send: (c: Awaited<ReturnType<typeof rawMysqlConnect>>) => void) => {
      const c = await rawMysqlConnect(t.mysqlPort, 'conf', token);
      try {
        send(c);
        const p = (await c.next()).payload;
        return p[0] === 0xff ? decodeErr(p, 0, p.length).message : `packet 0x${p[0]?.toString(16)}`;
      } finally {
        c.close();
      }
    };
    return {
      garbage: () => errorOf((c) => c.send(Buffer.from([0xee, 1, 2, 3, 4]))),
      oversized: (limit) => {
        assert.ok(limit + 1024 < 0xffffff, 'the limit is below what one packet header can announce');
        const head = Buffer.alloc(5);
        head.writeUIntLE(limit + 1024, 0, 3);
        head[3] = 0;
        head[4] = 0x03; // COM_QUERY, its body never sent
        return errorOf((c) => c.sendRaw(head));
      },
    };
  },
  async killUpstream(_t, client) {
    const conn = clients.get(client)!;
    // The target's id of this session, as the target reports it; checked against its process list.
    const [rows] = await conn.query({ sql: 'SELECT CONNECTION_ID()', rowsAsArray: true });
    const id = Number((rows as string[][])[0]![0]);
    assert.notEqual(id, conn.threadId, 'the gateway gave the client its own id, not the target\'s');
    const seen = await root(`SELECT count(*) FROM information_schema.processlist WHERE id = ${id} AND db = '${db}'`);
    assert.equal(seen.stdout.trim(), '1', `session ${id} is not on the target: ${seen.stderr}`);
    const r = await root(`KILL CONNECTION ${id}`);
    assert.equal(r.code, 0, r.stderr);
  },
  errorInTransaction: 'keeps',
  cancelled: /interrupted/i,
  sql: {
    sleep: (s) => `SELECT SLEEP(${s})`,
    duplicateEmail: (table, email) => `INSERT INTO ${table} (id, email) VALUES (99, '${email}')`,
    createTable: (table) => `CREATE TABLE ${table} (id int PRIMARY KEY, email varchar(255) UNIQUE)`,
  },
});

export const mysqlKill = (name: string, gateway: Record<string, unknown> = {}): KillDriver => ({
  name,
  gateway,
  listen: { key: 'mysql', banner: /MySQL\s+127\.0\.0\.1:(\d+)/ },
  async startTarget() {
    // The general log, kept in a table, holds every statement the server received.
    const server = await startMariadb({ args: ['--general-log=1', '--log-output=TABLE'] });
    await server.admin("CREATE DATABASE warden_kill; CREATE USER 'warden'@'127.0.0.1' IDENTIFIED BY 'warden-pw'; GRANT ALL ON *.* TO 'warden'@'127.0.0.1'");
    return {
      connection: { type: 'mysql', host: '127.0.0.1', port: server.port, database: 'warden_kill', user: 'warden', password: 'warden-pw', tls: false },
      async executed(marker) {
        // sql_log_off: this reading, which names the marker too, stays out of the log
        const out = await server.admin(
          `SET SESSION sql_log_off = 1; SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE command_type = 'Query' AND argument LIKE '%${marker}%' ORDER BY event_time`,
        );
        return out.split('\n').filter((l) => l !== '');
      },
      close: () => server.close(),
    };
  },
  async createTable(target, table) {
    const c = target.connection as { port: number };
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: c.port, user: 'warden', password: 'warden-pw', database: 'warden_kill' });
    try {
      await conn.query(`CREATE TABLE ${table} (v text)`);
    } finally {
      await conn.end();
    }
  },
  async loadClient(port, connection, token) {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: connection, password: token });
    c.on('error', () => {});
    return { query: (sql) => c.query(sql), close: () => c.destroy() };
  },
});
