// Shared by the reviews-*.test.ts files: a real in-process gateway whose config has a
// top-level `reviews:` section (test/helpers/gateway.ts takes no such key), the CLI as a
// user runs it, and direct access to the target to check what really happened.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.ts';
import { run } from '../helpers/clients.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface ReviewGateway {
  gw: GatewayHandle;
  pgPort: number;
  httpUrl: string;
  token(groups: string[], name: string, ttlMs?: number | null): Promise<string>;
  /** call the API as the holder of `token` */
  api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** run `warden <args>` against this gateway as the holder of `token` */
  warden(token: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** audit events of these types, oldest first */
  events(typePrefix: string): Promise<{ type: string; actor: string | null; data: any }[]>;
  close(): Promise<void>;
}

export async function startReviewGateway(raw: { connections: unknown[]; rules?: unknown[]; reviews?: unknown }): Promise<ReviewGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-reviews-'));
  const config = parseConfig({
    gateway: { dataDir: join(dir, 'data'), listen: { http: '127.0.0.1:0', postgres: '127.0.0.1:0' }, logLevel: 'silent' },
    connections: raw.connections,
    rules: raw.rules ?? [],
    ...(raw.reviews ? { reviews: raw.reviews } : {}),
  });
  const gw = await startGateway(config, { log: pino({ level: 'silent' }) });
  const httpUrl = gw.httpUrl;
  return {
    gw,
    pgPort: gw.postgres!.port,
    httpUrl,
    token: async (groups, name, ttlMs = null) => (await gw.services.createToken({ name, groups, ttlMs }, 'test')).token,
    api: async (token, method, path, body) => {
      const res = await fetch(httpUrl + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    warden: (token, args) => run(process.execPath, [join(ROOT, 'bin/warden.js'), ...args], { env: { WARDEN_GATEWAY: httpUrl, WARDEN_TOKEN: token } }),
    events: async (prefix) => {
      await gw.services.audit.flush();
      const rows = await gw.services.store.db.selectFrom('events').select(['type', 'actor', 'data']).where('type', 'like', `${prefix}%`).orderBy('seq').execute();
      return rows.map((r) => ({ type: r.type, actor: r.actor, data: JSON.parse(r.data) }));
    },
    close: async () => {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run SQL on the machine's Postgres directly (not through Warden). */
export async function direct<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

/** The review id a held command's error names. */
export function reviewIdOf(text: string): string {
  const m = /review (r[0-9a-f]{12})/.exec(text);
  if (!m) throw new Error(`no review id in: ${text}`);
  return m[1]!;
}

/** A unique table name per test run (tests in parallel share one Postgres). */
export function tableName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
}
