// The web console on the HTTP listener: the compiled single-page app (web/, built at
// `npm install`) at `/`, and the few API routes only the console needs (a live review feed,
// the sessions table with paging, result export). Everything else it shows comes from the
// ordinary /api/v1 routes, with the same role checks as for the CLI.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ServerResponse } from 'node:http';
import type { Identity } from '../identity/types.ts';
import type { ReviewDesk } from '../reviews/desk.ts';
import type { ConnectionConfig } from '../config/schema.ts';
import type { Services } from './services.ts';
import { describeConnection } from './services.ts';
import { checkAccess } from '../session/access.ts';
import { HttpError } from './http-api.ts';
import { bearerToken } from '../identity/bearer.ts';
import { mountConsoleLogin } from './console-auth.ts';
import { parseSessionQuery, QueryError, sessionPage } from './console-sessions.ts';
import { mountConsoleStatic } from './console-static.ts';
import { streamResult } from './console-export.ts';

export interface ConsoleDeps {
  services: Services;
  desk: ReviewDesk;
  connections: ConnectionConfig[];
  /** top-level rules (warden.yaml `rules:`), shown read-only */
  rules: unknown[];
  log: Logger;
  /** an open session of this gateway, to end it */
  liveSession(id: string): { isEnded: boolean; terminate(reason: string): Promise<void> } | undefined;
}

const HEARTBEAT_MS = 20_000;

export function mountConsole(app: FastifyInstance, deps: ConsoleDeps): void {
  const { services, desk } = deps;
  mountConsoleLogin(app, services);
  mountConsoleStatic(app, deps.log);

  async function caller(req: FastifyRequest): Promise<Identity> {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new HttpError(401, 'not logged in');
    const o = await services.authenticateDetailed(token, { clientAddr: req.ip, frontDoor: 'http' });
    if (!o.ok) throw new HttpError(o.reason === 'rate_limited' ? 429 : 401, 'invalid or expired token');
    return o.identity;
  }
  const need = (who: Identity, role: 'admin' | 'auditor') => {
    if (!services.hasRole(who, role)) throw new HttpError(403, `${role} role required`);
  };

  // Live inbox: Server-Sent Events naming each review that changed (the page then reads it
  // through /api/v1/reviews, which decides what this viewer may see).
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
  });
  app.get('/api/v1/console/events', async (req, reply) => {
    const who = await caller(req);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    streams.add(res);
    const stop = desk.watch(({ type, id }) => {
      void desk.get(who, id).then((r) => {
        if (r && !res.writableEnded) res.write(`event: review\ndata: ${JSON.stringify({ type, id })}\n\n`);
      }).catch(() => {});
    });
    const beat = setInterval(() => res.write(': beat\n\n'), HEARTBEAT_MS);
    const close = () => {
      clearInterval(beat);
      stop();
      streams.delete(res);
    };
    req.raw.on('close', close);
    res.on('close', close);
  });

  // Sessions table: filters and keyset paging (console-sessions.ts); auditors, as for /api/v1/sessions.
  app.get('/api/v1/console/sessions', async (req) => {
    need(await caller(req), 'auditor');
    try {
      return await sessionPage(services.store, parseSessionQuery(req.query as Record<string, unknown>));
    } catch (e) {
      if (e instanceof QueryError) throw new HttpError(400, e.message);
      throw e;
    }
  });

  // One recorded result as CSV or JSON, streamed: the masked rows as recorded, never the originals.
  app.get('/api/v1/console/sessions/:id/events/:seq/export', async (req, reply) => {
    const who = await caller(req);
    need(who, 'auditor');
    const { id, seq } = req.params as { id: string; seq: string };
    const format = (req.query as { format?: string }).format ?? 'csv';
    if (format !== 'csv' && format !== 'json') throw new HttpError(400, 'format: csv or json');
    if (!/^\d+$/.test(seq)) throw new HttpError(400, 'seq must be an event number');
    const row = await services.store.db.selectFrom('events').select(['data', 'type']).where('session_id', '=', id).where('seq', '=', Number(seq)).executeTakeFirst();
    if (!row || row.type !== 'result') throw new HttpError(404, `no result event ${seq} in session ${id}`);
    await services.audit.append({ type: 'result.exported', sessionId: id, actor: who.name, data: { seq: Number(seq), format } });
    const data = JSON.parse(row.data) as Record<string, unknown>;
    void reply
      .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="session-${id.slice(0, 8)}-${seq}.${format}"`)
      .header('cache-control', 'no-store');
    return reply.send(streamResult(data, format));
  });

  // An admin ends a live session: recorded, and its client's connection is closed (Postgres,
  // MySQL: told why first; an SSH shell at its next line; an HTTP session is one request).
  app.post('/api/v1/console/sessions/:id/end', async (req) => {
    const who = await caller(req);
    need(who, 'admin');
    const id = (req.params as { id: string }).id;
    const s = deps.liveSession(id);
    if (!s || s.isEnded) throw new HttpError(404, 'no live session with this id on this gateway');
    await services.audit.append({ type: 'session.terminated', sessionId: id, actor: who.name, data: {} });
    await s.terminate(`ended by ${who.name} in the console`);
    return { ended: id };
  });

  // The Audit page: the last verify (kept by the gateway) and how far the chain has grown
  // since, read without walking it; a walk runs only when asked (POST), shared by whoever
  // asks while it runs. Auditors, as for /api/v1/audit/verify.
  const auditState = async () => {
    const head = await services.store.db.selectFrom('chain_head').select('seq').where('id', '=', 1).executeTakeFirst();
    const chainEnd = head ? Number(head.seq) : 0;
    const last = services.auditChecks.latest;
    return { last, running: services.auditChecks.busy, chainEnd, eventsSince: last ? Math.max(0, chainEnd - last.result.lastSeq) : null };
  };
  app.get('/api/v1/console/audit', async (req) => {
    need(await caller(req), 'auditor');
    return auditState();
  });
  app.post('/api/v1/console/audit/verify', async (req) => {
    need(await caller(req), 'auditor');
    await services.auditChecks.shared();
    return auditState();
  });

  // Connections with their access groups and rules, read-only. Rules are shown to admins and
  // auditors; everyone else sees what /api/v1/connections shows them.
  app.get('/api/v1/console/connections', async (req) => {
    const who = await caller(req);
    const all = services.hasRole(who, 'admin') || services.hasRole(who, 'auditor');
    return {
      rules: all ? deps.rules : [],
      connections: deps.connections
        .filter((c) => all || checkAccess(who, c).allowed)
        .map((c) => ({ ...describeConnection(c), onUnknown: c.onUnknown ?? null, rules: all ? (c.rules ?? []) : [], masking: all ? (c.masking ?? null) : null })),
    };
  });

  // Tokens (API keys) without their secret: admins.
  app.get('/api/v1/console/tokens', async (req) => {
    need(await caller(req), 'admin');
    const keys = await services.listTokens();
    return keys.map((k) => ({
      id: k.id, name: k.name, groups: k.groups,
      createdAt: new Date(k.createdAt).toISOString(),
      expiresAt: k.expiresAt === null ? null : new Date(k.expiresAt).toISOString(),
      lastUsedAt: k.lastUsedAt === null ? null : new Date(k.lastUsedAt).toISOString(),
    }));
  });
}
