// /api/v1/reviews and /api/v1/access-requests. Routes only translate HTTP; the desk
// decides who may see, approve or reject what (desk.ts), and audits every change.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.ts';
import { parseDuration } from '../config/duration.ts';
import { ReviewError, type ReviewDesk } from './desk.ts';
import type { ReviewKind, ReviewStatus } from './types.ts';
import { bearerToken } from '../identity/bearer.ts';

export interface ReviewRouteDeps {
  desk: ReviewDesk;
  /** a bearer token to an identity (null: refused; the gateway audits why) */
  authenticate(token: string, clientAddr: string): Promise<Identity | null>;
}

const STATUSES: ReviewStatus[] = ['pending', 'approved', 'rejected', 'expired', 'used'];
const KINDS: ReviewKind[] = ['command', 'access'];

function comment(body: unknown): string | null {
  const c = (body as { comment?: unknown } | null)?.comment;
  if (c === undefined || c === null) return null;
  if (typeof c !== 'string') throw new ReviewError(400, 'comment: expected a string');
  return c.slice(0, 2000) || null;
}

export function mountReviewRoutes(app: FastifyInstance, deps: ReviewRouteDeps): void {
  const { desk } = deps;
  const caller = async (req: FastifyRequest): Promise<Identity> => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new ReviewError(401, 'missing bearer token');
    const who = await deps.authenticate(token, req.ip);
    if (!who) throw new ReviewError(401, 'invalid or expired token');
    return who;
  };

  app.get('/api/v1/reviews', async (req) => {
    const who = await caller(req);
    const q = req.query as { status?: string; kind?: string; limit?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ReviewError(400, 'limit must be an integer from 1 to 1000');
    if (q.status !== undefined && !STATUSES.includes(q.status as ReviewStatus)) throw new ReviewError(400, `status must be one of ${STATUSES.join(', ')}`);
    if (q.kind !== undefined && !KINDS.includes(q.kind as ReviewKind)) throw new ReviewError(400, `kind must be one of ${KINDS.join(', ')}`);
    return desk.list(who, { limit, status: q.status as ReviewStatus | undefined, kind: q.kind as ReviewKind | undefined });
  });

  app.get('/api/v1/reviews/:id', async (req) => {
    const who = await caller(req);
    const r = await desk.get(who, (req.params as { id: string }).id);
    if (!r) throw new ReviewError(404, 'no such review');
    return r;
  });

  for (const vote of ['approve', 'reject'] as const) {
    app.post(`/api/v1/reviews/:id/${vote}`, async (req) => {
      const who = await caller(req);
      return desk.vote((req.params as { id: string }).id, who, vote, comment(req.body));
    });
  }

  app.post('/api/v1/access-requests', async (req, reply) => {
    const who = await caller(req);
    const b = (req.body ?? {}) as { connection?: unknown; duration?: unknown; reason?: unknown };
    if (typeof b.connection !== 'string' || !b.connection) throw new ReviewError(400, 'connection: a connection name is required');
    if (typeof b.reason !== 'string' || !b.reason.trim()) throw new ReviewError(400, 'reason: say why you need access');
    let ms: number;
    try {
      ms = parseDuration(String(b.duration ?? ''));
    } catch (e) {
      throw new ReviewError(400, `duration: ${(e as Error).message}`);
    }
    const r = await desk.requestAccess(who, b.connection, ms, b.reason);
    return reply.status(201).send({ ...r, approve: desk.approveHow(r.id) });
  });
}
