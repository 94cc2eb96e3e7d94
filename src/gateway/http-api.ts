// The gateway's HTTP surface: /api/v1 (bearer tokens), /healthz, /metrics, and the
// OpenAPI document. Routes only translate HTTP; the services behind them hold the logic.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.ts';
import type { VerifyResult } from '../audit/types.ts';
import { parseDuration } from '../config/duration.ts';
import { openapi } from './openapi.ts';

export interface ApiServices {
  authenticate(token: string, clientAddr: string): Promise<Identity | null>;
  connections(identity: Identity): Record<string, unknown>[];
  listSessions(q: { limit: number; connection?: string }): Promise<unknown[]>;
  getSession(id: string): Promise<unknown | null>;
  createToken(req: { name: string; groups: string[]; ttlMs: number | null }, by: Identity): Promise<{ id: string; token: string; expiresAt: number | null }>;
  verifyAudit(): Promise<VerifyResult>;
  metrics(): string;
  health(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const isAdmin = (i: Identity) => i.groups.includes('admin');
const isAuditor = (i: Identity) => isAdmin(i) || i.groups.includes('auditor');

export function buildHttpApi(services: ApiServices): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });

  async function caller(req: FastifyRequest): Promise<Identity> {
    const h = req.headers.authorization;
    const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
    if (!m) throw new HttpError(401, 'missing bearer token');
    const id = await services.authenticate(m[1]!, req.ip);
    if (!id) throw new HttpError(401, 'invalid or expired token');
    return id;
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
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(services.metrics()));
  app.get('/api/v1/openapi.json', async () => openapi);

  app.get('/api/v1/whoami', async (req) => {
    const id = await caller(req);
    return { kind: id.kind, subject: id.subject, name: id.name, groups: id.groups };
  });
  app.get('/api/v1/connections', async (req) => services.connections(await caller(req)));
  app.get('/api/v1/sessions', async (req) => {
    need(isAuditor(await caller(req)), 'auditor');
    const q = req.query as { limit?: string; connection?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'limit must be an integer from 1 to 1000');
    return services.listSessions({ limit, connection: q.connection });
  });
  app.get('/api/v1/sessions/:id', async (req) => {
    need(isAuditor(await caller(req)), 'auditor');
    const s = await services.getSession((req.params as { id: string }).id);
    if (!s) throw new HttpError(404, 'no such session');
    return s;
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
