// Where CLI commands get their answers: a running gateway's HTTP API (--gateway or
// WARDEN_GATEWAY, with WARDEN_TOKEN), or the local data dir named by the config.
// The config loader, the services and the OIDC client are imported when a command
// needs them, so that `warden --help` and remote calls do not load the gateway (main.ts).
import type { VerifyResult } from '../audit/types.ts';
import { loadCredentials } from '../identity/login-store.ts';
import { GATEWAY_TOKEN_ISSUER } from '../identity/gateway-token.ts';
import { gatewayCall, gatewayRequest } from './gateway-http.ts';
import type { CommandSearch, CommandSearchPage } from '../store/command-search.ts';
import type { UsageQuery, UsageRow } from '../usage/ledger.ts';

/**
 * The token for a gateway: WARDEN_TOKEN, else the stored `warden login` (an IdP access
 * token, refreshed when about to expire, or a local login's gateway token).
 */
export async function gatewayToken(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.WARDEN_TOKEN) return env.WARDEN_TOKEN;
  const stored = loadCredentials();
  if (!stored) throw new Error('WARDEN_TOKEN is not set and there is no stored login (run `warden login --gateway URL`)');
  if (stored.issuer === GATEWAY_TOKEN_ISSUER) {
    if (stored.expiresAt !== undefined && stored.expiresAt <= Date.now()) throw new Error('the stored login has expired: run `warden login --local` again');
    return stored.accessToken;
  }
  const { getAccessToken } = await import('../identity/login.ts');
  return getAccessToken({ issuer: stored.issuer, clientId: stored.clientId });
}

export interface Backend {
  createToken(req: { name: string; groups: string[]; ttlMs: number | null; ttl?: string }): Promise<{ id: string; token: string; expiresAt: number | string | null }>;
  listSessions(q: { limit: number; connection?: string }): Promise<Record<string, unknown>[]>;
  getSession(id: string): Promise<(Record<string, unknown> & { events: unknown[] }) | null>;
  /** one page of a command search (GET /api/v1/sessions?command=) */
  searchCommands(q: CommandSearch): Promise<CommandSearchPage>;
  verifyAudit(): Promise<VerifyResult>;
  connections(): Promise<Record<string, unknown>[]>;
  /** LLM token usage rows and totals (GET /api/v1/usage) */
  usage(q: UsageQuery): Promise<{ rows: UsageRow[] }>;
  close(): Promise<void>;
}

export interface BackendOptions {
  config?: string;
  gateway?: string;
}

class RemoteBackend implements Backend {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  private call(method: string, path: string, body?: unknown): Promise<unknown> {
    return gatewayCall(this.base, method, path, { token: this.token, body, nullOn404: method === 'GET' && path.startsWith('/api/v1/sessions/') });
  }

  createToken(req: { name: string; groups: string[]; ttl?: string }) {
    return this.call('POST', '/api/v1/tokens', { name: req.name, groups: req.groups, ttl: req.ttl }) as Promise<{ id: string; token: string; expiresAt: string | null }>;
  }
  listSessions(q: { limit: number; connection?: string }) {
    const p = new URLSearchParams({ limit: String(q.limit), ...(q.connection ? { connection: q.connection } : {}) });
    return this.call('GET', `/api/v1/sessions?${p}`) as Promise<Record<string, unknown>[]>;
  }
  getSession(id: string) {
    return this.call('GET', `/api/v1/sessions/${encodeURIComponent(id)}`) as Promise<(Record<string, unknown> & { events: unknown[] }) | null>;
  }
  async searchCommands(q: CommandSearch) {
    const p = new URLSearchParams({ command: q.glob, limit: String(q.limit ?? 100) });
    if (q.connection) p.set('connection', q.connection);
    if (q.before !== undefined) p.set('before', String(q.before));
    if (q.since !== undefined) p.set('since', new Date(q.since).toISOString());
    const r = await gatewayRequest(this.base, 'GET', `/api/v1/sessions?${p}`, { token: this.token });
    if (!r.ok) throw new Error(`gateway answered ${r.status}: ${String(r.body.error ?? r.statusText)}`);
    const next = r.headers.get('x-next-before');
    return { sessions: r.body as unknown as CommandSearchPage['sessions'], next: next === null ? null : Number(next) };
  }
  verifyAudit() {
    return this.call('GET', '/api/v1/audit/verify') as Promise<VerifyResult>;
  }
  connections() {
    return this.call('GET', '/api/v1/connections') as Promise<Record<string, unknown>[]>;
  }
  usage(q: UsageQuery) {
    const p = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => typeof e[1] === 'string'));
    return this.call('GET', `/api/v1/usage?${p}`) as Promise<{ rows: UsageRow[] }>;
  }
  async close() {}
}

export async function openBackend(opts: BackendOptions): Promise<Backend> {
  const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY;
  if (gateway) {
    return new RemoteBackend(gateway, await gatewayToken());
  }
  const { config } = (await import('../config/load.ts')).loadConfig(opts.config);
  const s = await (await import('../gateway/services.ts')).openServices(config, { writer: true, cli: true });
  return {
    createToken: (req) => s.createToken(req, `cli:${process.env.USER ?? 'local'}`),
    listSessions: async (q) => (await s.listSessions(q)) as unknown as Record<string, unknown>[],
    getSession: (id) => s.getSession(id) as Promise<(Record<string, unknown> & { events: unknown[] }) | null>,
    searchCommands: (q) => s.searchCommands(q),
    verifyAudit: () => s.verifyAudit(),
    connections: async () => s.connectionsFor(null),
    usage: async (q) => ({ rows: await s.usage.list(q) }),
    close: () => s.close(),
  };
}
