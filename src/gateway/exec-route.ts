// POST /api/v1/exec: one command on a connection, as the caller, through the same
// pipeline as psql. Like the MCP tools, it reaches the database only through the
// gateway's own Postgres listener with the caller's own token, so identity, access,
// rules, reviews, recording and masking all apply, and the session is the caller's.
// `warden exec <connection> -c "<command>"` is its client.
//
// The bearer is authenticated here first, against the caller's own address: the Postgres
// door sees every exec coming from loopback, so a flood of bad tokens sent through it would
// rate-limit 127.0.0.1 for every local caller while the sender's address went free.
import type { FastifyInstance } from 'fastify';
import { bearerToken } from '../identity/bearer.ts';
import type { AuthOutcome } from '../identity/identity-service.ts';
import { PgBridge, StatementTimeout } from '../mcp/pg-bridge.ts';
import { classifyPgError } from '../mcp/refusals.ts';
import { HttpError } from './http-api.ts';

/** What one exec may return and how long it may run: a terminal's worth, not an export. */
const CAPS = { maxRows: 10_000, maxBytes: 16 << 20, timeoutMs: 5 * 60_000 };

export interface ExecRouteDeps {
  /** the gateway's Postgres listener */
  postgres: { host: string; port: number };
  /** the identity check with the caller's address (rate limits count that address) */
  authenticate(token: string, clientAddr: string): Promise<AuthOutcome>;
}

export function mountExecRoute(app: FastifyInstance, deps: ExecRouteDeps): { close(): Promise<void> } {
  const { postgres } = deps;
  // idleMs 0: each exec is its own session, closed when its command is done.
  const bridge = new PgBridge({ ...postgres, idleMs: 0, applicationName: 'warden-exec' });

  app.post('/api/v1/exec', async (req, reply) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new HttpError(401, 'missing bearer token');
    const b = (req.body ?? {}) as { connection?: unknown; command?: unknown };
    if (typeof b.connection !== 'string' || !b.connection) throw new HttpError(400, 'connection: expected a connection name');
    if (typeof b.command !== 'string' || !b.command.trim()) throw new HttpError(400, 'command: expected the command to run');
    const who = await deps.authenticate(token, req.ip);
    if (!who.ok && who.reason === 'rate_limited') throw new HttpError(429, 'too many failed attempts; try again later');
    if (!who.ok) throw new HttpError(401, 'invalid or expired token');
    try {
      const r = await bridge.query(token, b.connection, b.command, undefined, CAPS);
      return { columns: r.columns, rows: r.rows, rowCount: r.rowCount, truncated: r.truncated, command: r.command };
    } catch (e) {
      if (e instanceof StatementTimeout) throw new HttpError(408, e.message);
      const r = classifyPgError(e);
      // Refusals say what happened; nothing ran in any of them (the pipeline refuses before forwarding).
      switch (r.kind) {
        case 'auth':
          throw new HttpError(401, r.reason);
        case 'access':
          throw new HttpError(403, r.reason);
        case 'blocked':
          return reply.status(403).send({ error: `blocked: ${r.reason}`, blocked: true });
        case 'review':
          return reply.status(202).send({ error: r.message, reviewId: r.reviewId });
        case 'sql':
          return reply.status(422).send({ error: r.message, code: r.code, detail: r.detail, hint: r.hint });
      }
    }
  });
  return { close: () => bridge.close() };
}
