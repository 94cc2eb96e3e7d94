// How POST /api/v1/exec answers a command refused before anything ran, the same for a
// statement (`command`) and an argv (`argv`): the caller's CLI reads these codes (403
// blocked, 202 held for review with its id, 401/403/429 at admission).
import type { FastifyReply } from 'fastify';
import type { AdmissionRefusal } from '../session/admission.ts';
import { HttpError } from './http-api.ts';

export type PipelineRefusal = AdmissionRefusal | { kind: 'blocked'; message: string } | { kind: 'review'; reviewId: string; message: string };

export function replyRefused(reply: FastifyReply, r: PipelineRefusal): FastifyReply {
  switch (r.kind) {
    case 'rate_limited':
      throw new HttpError(429, r.message);
    case 'bad_credential':
      throw new HttpError(401, r.message);
    case 'unknown_connection':
    case 'access_denied':
      throw new HttpError(403, r.message);
    case 'blocked':
      return reply.status(403).send({ error: `blocked: ${r.message}`, blocked: true });
    case 'review':
      return reply.status(202).send({ error: r.message, reviewId: r.reviewId });
  }
}
