// Starts a real gateway in-process for a test: its own data dir, loopback ports
// chosen by the OS, and the connections the test names. Returns what a client needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.ts';

export interface TestGateway {
  gw: GatewayHandle;
  dataDir: string;
  pgPort: number;
  /** the MySQL door's port (0 when no mysql connection is configured) */
  mysqlPort: number;
  /** the SSH door's port (0 when no ssh connection is configured) */
  sshPort: number;
  httpUrl: string;
  /** admin token (bootstrap) */
  adminToken: string;
  /** make a token with these groups */
  token(groups: string[], name?: string, ttlMs?: number | null): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(
  raw: { connections?: unknown[]; rules?: unknown[]; gateway?: Record<string, unknown>; auth?: Record<string, unknown>; demo?: boolean; log?: pino.Logger } = {},
): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  const config = parseConfig({
    gateway: { dataDir: join(dir, 'data'), listen: { http: '127.0.0.1:0', postgres: '127.0.0.1:0', mysql: '127.0.0.1:0', ssh: '127.0.0.1:0' }, logLevel: 'silent', ...raw.gateway },
    connections: raw.connections ?? [],
    rules: raw.rules ?? [],
    ...(raw.auth ? { auth: raw.auth } : {}),
  });
  const gw = await startGateway(config, { demo: raw.demo, log: raw.log ?? pino({ level: 'silent' }) });
  let closed = false;
  return {
    gw,
    dataDir: config.gateway.dataDir,
    pgPort: gw.postgres!.port,
    mysqlPort: gw.mysql?.port ?? 0,
    sshPort: gw.ssh?.port ?? 0,
    httpUrl: gw.httpUrl,
    adminToken: gw.bootstrapToken!,
    token: async (groups, name = 'tester', ttlMs = null) => (await gw.services.createToken({ name, groups, ttlMs }, 'test')).token,
    close: async () => {
      if (closed) return;
      closed = true;
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A connection to the machine's MariaDB service (root, no password) for tests. */
export function localMysql(name = 'mylocal', extra: Record<string, unknown> = {}) {
  return { name, type: 'mysql', host: '127.0.0.1', port: 3306, user: 'root', tls: false, access: { groups: ['dev'] }, ...extra };
}

/** A connection to the machine's Postgres service (trust auth) for tests. */
export function localPostgres(name = 'local', extra: Record<string, unknown> = {}) {
  return { name, type: 'postgres', host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres', tls: false, access: { groups: ['dev'] }, ...extra };
}
