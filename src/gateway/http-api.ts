// The gateway's HTTP surface: /api/v1 (bearer tokens), /healthz, /metrics, and the
// OpenAPI document. Routes only translate HTTP; the services behind them hold the logic.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.ts';
import type { AuthOutcome } from '../identity/identity-service.ts';
import type { Role } from '../identity/roles.ts';
import type { VerifyResult } from '../audit/types.ts';
import { parseDuration } from '../config/duration.ts';
import { openapi } from './openapi.ts';
import { bearerToken } from '../identity/bearer.ts';
import type { UsageQuery, UsageRow } from '../usage/ledger.ts';
import { parseUsageQuery, UsageQueryError } from '../usage/query.ts';
import type { CommandSearch } from '../store/command-search.ts';
import { SESSION_COOKIE } from '../identity/browser-cookies.ts';

/** the header that carries the `before` of the next page of a command search */
export const NEXT_PAGE_HEADER = 'x-next-before';

export interface ApiServices {
  authenticate(token: string, clientAddr: string): Promise<AuthOutcome>;
  /** role from groups (auth.roles); admin passes every check */
  hasRole(identity: Identity, role: Role): boolean;
  roles(identity: Identity): Role[];
  connections(identity: Identity): Record<string, unknown>[];
  listSessions(q: { limit: number; connection?: string }): Promise<unknown[]>;
  /** sessions that ran a command matching a glob, newest hit first, and where the next page starts */
  searchCommands?(q: CommandSearch): Promise<{ sessions: unknown[]; next: number | null }>;
  /** LLM token usage rows (src/usage/ledger.ts) */
  usage?(q: UsageQuery): Promise<UsageRow[]>;
  getSession(id: string): Promise<unknown | null>;
  revealOriginals(sessionId: string, seq: number, by: Identity): Promise<unknown>;
  createToken(req: { name: string; groups: string[]; ttlMs: number | null }, by: Identity): Promise<{ id: string; token: string; expiresAt: number | null }>;
  verifyAudit(): Promise<VerifyResult>;
  metrics(): string;
  /** gateway.metricsToken: when set, /metrics answers only `Authorization: Bearer <it>` */
  metricsToken: string | null;
  health(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  /** the URL a request is routed by, chosen before routing (the proxy's host-based form) */
  rewriteUrl?: (req: IncomingMessage) => string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The browser login's cookie (auth-routes.ts): a gateway token, for the web UI. */
export { SESSION_COOKIE };

/** The bearer token of a request: the Authorization header, else the browser session cookie. */
export function requestToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (h) return bearerToken(h);
  const cookie = req.headers.cookie;
  if (!cookie) return null;
  for (const part of cookie.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(i + 1).trim()) || null;
  }
  return null;
}

function totals(rows: UsageRow[]): { inputTokens: number; outputTokens: number; totalTokens: number; requests: number; refused: number } {
  const t = { inputTokens: 0, outputTokens: 0, totalTokens: 0, requests: 0, refused: 0 };
  for (const r of rows) {
    t.inputTokens += r.inputTokens;
    t.outputTokens += r.outputTokens;
    t.totalTokens += r.totalTokens;
    t.requests += r.requests;
    t.refused += r.refused;
  }
  return t;
}

export function buildHttpApi(services: ApiServices): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20, ...(services.rewriteUrl ? { rewriteUrl: services.rewriteUrl } : {}) });

  const isAdmin = (i: Identity) => services.hasRole(i, 'admin');
  const isAuditor = (i: Identity) => services.hasRole(i, 'auditor');

  async function caller(req: FastifyRequest): Promise<Identity> {
    const token = requestToken(req);
    if (!token) throw new HttpError(401, 'missing bearer token');
    const o = await services.authenticate(token, req.ip);
    if (!o.ok && o.reason === 'rate_limited') throw new HttpError(429, 'too many failed attempts; try again later');
    if (!o.ok) throw new HttpError(401, 'invalid or expired token');
    return o.identity;
  }
  function need(ok: boolean, what: string): void {
    if (!ok) throw new HttpError(403, `${what} role required`);
  }

  app.setErrorHandler((e: Error & { statusCode?: number }, _req, reply) => {
    const status = e instanceof HttpError ? e.status : e.statusCode && e.statusCode < 500 ? e.statusCode : 500;
    void reply.status(status).send({ error: status === 500 ? 'internal error' : e.message });
  });
  app.setNotFoundHandler((_req, reply) => void reply.status(404).send({ error: 'not found' }));

  app.get('/healthz', async (_req, reply) => {
    const h = await services.health();
    return reply.status(h.ok ? 200 : 503).send({ status: h.ok ? 'ok' : 'unhealthy', ...h.detail });
  });
  const metricsToken = services.metricsToken === null ? null : Buffer.from(services.metricsToken);
  app.get('/metrics', async (req, reply) => {
    if (metricsToken) {
      const given = Buffer.from(bearerToken(req.headers.authorization) ?? '');
      if (given.length !== metricsToken.length || !timingSafeEqual(given, metricsToken)) {
        return reply.status(401).header('www-authenticate', 'Bearer realm="metrics"').send({ error: 'metrics need the bearer token of gateway.metricsToken' });
      }
    }
    return reply.type('text/plain; version=0.0.4').send(services.metrics());
  });
  app.get('/api/v1/openapi.json', async () => openapi);

  app.get('/api/v1/whoami', async (req) => {
    const id = await caller(req);
    return { kind: id.kind, subject: id.subject, name: id.name, groups: id.groups, roles: services.roles(id) };
  });
  app.get('/api/v1/connections', async (req) => services.connections(await caller(req)));
  app.get('/api/v1/sessions', async (req, reply) => {
    need(isAuditor(await caller(req)), 'auditor');
    const q = req.query as { limit?: string; connection?: string; command?: string; before?: string; since?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'limit must be an integer from 1 to 1000');
    if (q.command === undefined) {
      if (q.before !== undefined || q.since !== undefined) throw new HttpError(400, 'before and since page a command search: give command too');
      return services.listSessions({ limit, connection: q.connection });
    }
    if (!services.searchCommands) throw new HttpError(404, 'command search is not available on this gateway');
    if (typeof q.command !== 'string' || q.command === '') throw new HttpError(400, 'command: a non-empty glob is required (`*` matches any text)');
    if (q.before !== undefined && !/^\d{1,15}$/.test(q.before)) throw new HttpError(400, 'before must be an event number (the x-next-before of the previous page)');
    if (q.since !== undefined && Number.isNaN(Date.parse(q.since))) throw new HttpError(400, 'since must be an ISO-8601 time');
    const page = await services.searchCommands({
      glob: q.command,
      limit,
      ...(q.connection !== undefined ? { connection: q.connection } : {}),
      ...(q.before !== undefined ? { before: Number(q.before) } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
    });
    if (page.next !== null) void reply.header(NEXT_PAGE_HEADER, String(page.next));
    return page.sessions;
  });
  // LLM token usage by day, connection and identity; people who are not auditors see their own.
  app.get('/api/v1/usage', async (req) => {
    const who = await caller(req);
    if (!services.usage) throw new HttpError(404, 'usage is not kept by this gateway');
    let q: UsageQuery;
    try {
      q = parseUsageQuery(req.query as Record<string, unknown>);
    } catch (e) {
      if (e instanceof UsageQueryError) throw new HttpError(400, e.message);
      throw e;
    }
    const mine = `${who.kind}:${who.subject}`;
    const all = isAuditor(who);
    if (!all) q.identity = mine;
    const rows = (await services.usage(q)).filter((r) => all || r.identity === mine);
    return { rows, totals: totals(rows) };
  });
  app.get('/api/v1/sessions/:id', async (req) => {
    need(isAuditor(await caller(req)), 'auditor');
    const s = await services.getSession((req.params as { id: string }).id);
    if (!s) throw new HttpError(404, 'no such session');
    return s;
  });
  // Unmasked values of a recorded result (masking.keepOriginals): auditors only, audited.
  app.post('/api/v1/sessions/:id/events/:seq/reveal', async (req) => {
    const who = await caller(req);
    need(isAuditor(who), 'auditor');
    const { id, seq } = req.params as { id: string; seq: string };
    if (!/^\d+$/.test(seq)) throw new HttpError(400, 'seq must be an event number');
    try {
      return { originals: await services.revealOriginals(id, Number(seq), who) };
    } catch (e) {
      throw new HttpError(404, (e as Error).message);
    }
  });
  app.post('/api/v1/tokens', async (req, reply) => {
    const who = await caller(req);
    need(isAdmin(who), 'admin');
    const b = (req.body ?? {}) as { name?: unknown; groups?: unknown; ttl?: unknown };
    if (typeof b.name !== 'string' || !b.name.trim()) throw new HttpError(400, 'name: a non-empty string is required');
    if (b.groups !== undefined && (!Array.isArray(b.groups) || b.groups.some((g) => typeof g !== 'string' || !g))) throw new HttpError(400, 'groups: expected a list of group names');
    let ttlMs: number | null = null;
    if (b.ttl !== undefined) {
      try {
        ttlMs = parseDuration(String(b.ttl));
      } catch (e) {
        throw new HttpError(400, `ttl: ${(e as Error).message}`);
      }
    }
    const t = await services.createToken({ name: b.name.trim(), groups: (b.groups as string[] | undefined) ?? [], ttlMs }, who);
    return reply.status(201).send({ id: t.id, token: t.token, expiresAt: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString() });
  });
  app.get('/api/v1/audit/verify', async (req) => {
    need(isAuditor(await caller(req)), 'auditor');
    return services.verifyAudit();
  });
  return app;
}
