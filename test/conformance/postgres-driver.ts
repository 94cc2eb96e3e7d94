// The conformance suite's Postgres driver: the pg driver and raw frames against the Postgres
// door, with the main thread serving it or data-plane worker threads (gateway.workers).
import net from 'node:net';
import pg from 'pg';
import { startTestGateway, localPostgres } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { rawConnect } from '../helpers/raw-pg.ts';
import { encodeStartup } from '../../src/protocols/postgres/messages.ts';
import { readFile } from 'node:fs/promises';
import { startPgCluster } from '../helpers/pg-cluster.ts';
import type { ConformanceClient, ConformanceDriver, KillDriver } from './suite.ts';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const clients = new WeakMap<ConformanceClient, pg.Client>();

/** `gateway`: keys of the gateway section every gateway of the suite gets (e.g. workers). */
export const postgresConformance = (name: string, gateway: Record<string, unknown> = {}): ConformanceDriver => ({
  name,
  startGateway: (rules, extra) =>
    startTestGateway({ connections: [localPostgres('conf', extra?.connection ?? {})], rules, gateway: { ...gateway, ...extra?.gateway } }),
  async connect(t, identity, opts) {
    const token = opts?.token ?? (await t.token(['dev'], identity));
    const client = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'conf', password: token, database: 'conf', application_name: identity, types: asText });
    let closedWith: (e: Error | null) => void = () => {};
    const closed = new Promise<Error | null>((resolve) => (closedWith = resolve));
    client.on('error', (e) => closedWith(e));
    client.on('end', () => closedWith(null));
    await client.connect();
    const c: ConformanceClient = {
      query: async (sql) => (await client.query({ text: sql, rowMode: 'array' })).rows as (string | null)[][],
      cancel: () =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect(t.pgPort, '127.0.0.1', () => s.end(encodeStartup({ type: 'CancelRequest', pid: (client as unknown as { processID: number }).processID, key: (client as unknown as { secretKey: number }).secretKey })));
          s.on('close', () => resolve());
          s.on('error', reject);
        }),
      closed: () => closed,
      end: () => client.end(),
    };
    clients.set(c, client);
    return c;
  },
  async direct(sql) {
    const r = await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  },
  async malformed(t, identity) {
    const token = await t.token(['dev'], identity);
    const errorOf = async (bytes: Buffer) => {
      const c = await rawConnect(t.pgPort, 'conf', token);
      c.send(bytes);
      const answers = await c.next(1);
      const m = answers[0]!;
      c.close();
      return m.type === 'ErrorResponse' ? `${m.fields.M}` : m.type;
    };
    return {
      garbage: () => errorOf(Buffer.from([0x01, 0, 0, 0, 8, 1, 2, 3, 4])),
      oversized: (limit) => {
        const head = Buffer.alloc(5);
        head[0] = 0x51; // Query
        head.writeInt32BE(limit + 1024, 1);
        return errorOf(head);
      },
    };
  },
  async killUpstream(_t, client) {
    const name = (clients.get(client) as unknown as { connectionParameters?: { application_name?: string } })?.connectionParameters?.application_name ?? '';
    await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-X', '-c', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${name}'`]);
  },
  errorInTransaction: 'aborts',
  cancelled: /cancel/i,
  sql: {
    sleep: (s) => `SELECT pg_sleep(${s})`,
    duplicateEmail: (table, email) => `INSERT INTO ${table} (id, email) VALUES (99, '${email}')`,
    createTable: (table) => `CREATE TABLE ${table} (id int PRIMARY KEY, email text UNIQUE)`,
  },
});

export const postgresKill = (name: string, gateway: Record<string, unknown> = {}): KillDriver => ({
  name,
  gateway,
  listen: { key: 'postgres', banner: /Postgres\s+127\.0\.0\.1:(\d+)/ },
  async startTarget() {
    const cluster = await startPgCluster({ auth: 'trust', users: [] });
    const su = (sql: string) => run('psql', ['-h', cluster.socketDir, '-p', String(cluster.port), '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', '-c', sql]);
    await su("ALTER SYSTEM SET log_statement = 'all'");
    await su('SELECT pg_reload_conf()');
    return {
      connection: { type: 'postgres', host: '127.0.0.1', port: cluster.port, database: 'postgres', user: 'postgres', tls: false },
      async executed(marker) {
        const log = await readFile(cluster.logFile, 'utf8');
        const out: string[] = [];
        for (const m of log.matchAll(/LOG:\s+(?:statement|execute [^:]*): (.*)$/gm)) if (m[1]!.includes(marker)) out.push(m[1]!);
        return out;
      },
      close: () => cluster.close(),
    };
  },
  async createTable(target, table) {
    const c = target.connection as { port: number };
    const r = await run('psql', ['-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-d', 'postgres', '-X', '-c', `CREATE TABLE ${table} (v text)`]);
    if (r.code !== 0) throw new Error(r.stderr);
  },
  async loadClient(port, connection, token) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: connection, password: token, database: 'x' });
    c.on('error', () => {});
    await c.connect();
    return { query: (sql) => c.query(sql), close: () => void c.end().catch(() => {}) };
  },
});
