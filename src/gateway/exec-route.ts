// POST /api/v1/exec: one command on a connection, as the caller, through the same pipeline
// as psql or mysql: admission, rules, reviews, recording and masking, run in-process on the
// connection's engine (any SQL engine: Postgres, MySQL), in a session of its own recorded
// with front door `exec`. `warden exec <connection> -c "<command>"` is its client.
//
// With `argv` instead of `command`, it runs a command of an exec connection and streams its
// output (exec-stream.ts).
//
// The bearer is authenticated here, against the caller's own address, so rate limits count
// the sender and not the gateway.
import type { FastifyInstance } from 'fastify';
import { bearerToken } from '../identity/bearer.ts';
import type { AuthOutcome } from '../identity/identity-service.ts';
import type { InProcessExecutor } from './executor.ts';
import { HttpError } from './http-api.ts';
import type { ExecRunner } from '../protocols/exec/runner.ts';
import { streamExec } from './exec-stream.ts';
import { replyRefused } from './exec-refusals.ts';

/** What one exec may return and how long it may run: a terminal's worth, not an export. */
const CAPS = { maxRows: 10_000, maxBytes: 16 << 20, timeoutMs: 5 * 60_000 };

export interface ExecRouteDeps {
  executor: InProcessExecutor;
  /** exec connections (argv in, streamed output) */
  runner: ExecRunner;
  /** the identity check with the caller's address (rate limits count that address) */
  authenticate(token: string, clientAddr: string): Promise<AuthOutcome>;
}

export function mountExecRoute(app: FastifyInstance, deps: ExecRouteDeps): void {
  app.post('/api/v1/exec', async (req, reply) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new HttpError(401, 'missing bearer token');
    const b = (req.body ?? {}) as { connection?: unknown; command?: unknown; argv?: unknown };
    if (typeof b.connection !== 'string' || !b.connection) throw new HttpError(400, 'connection: expected a connection name');
    // only these keys: a caller never sets a command's environment, files or working directory
    const extra = Object.keys(b).filter((k) => k !== 'connection' && k !== 'command' && k !== 'argv');
    if (extra.length) throw new HttpError(400, `${extra[0]}: not accepted (a request names the connection and its command or argv only)`);
    if (b.argv !== undefined && b.command !== undefined) throw new HttpError(400, 'argv: give either command (SQL) or argv (exec connections), not both');
    if (b.argv === undefined && (typeof b.command !== 'string' || !b.command.trim())) throw new HttpError(400, 'command: expected the command to run');
    const who = await deps.authenticate(token, req.ip);
    if (!who.ok && who.reason === 'rate_limited') throw new HttpError(429, 'too many failed attempts; try again later');
    if (!who.ok) throw new HttpError(401, 'invalid or expired token');
    if (b.argv !== undefined) return streamExec(deps.runner, who.identity, b.connection, b.argv, req, reply);
    const o = await deps.executor.run({ identity: who.identity, connection: b.connection, sql: b.command as string, caps: CAPS, frontDoor: 'exec', clientAddr: `${req.ip}:${req.socket.remotePort ?? 0}` });
    if (o.ok) {
      const r = o.result;
      return { columns: r.columns, rows: r.rows, rowCount: r.rowCount, truncated: r.truncated, command: r.command, maskedColumns: o.maskedColumns, session: o.sessionId };
    }
    // Refusals say what happened; nothing ran in any of them (the pipeline refuses before forwarding).
    const r = o.refusal;
    switch (r.kind) {
      case 'timeout':
        throw new HttpError(408, r.message);
      case 'unreachable':
        throw new HttpError(502, r.message);
      case 'target':
        return reply.status(422).send({ error: r.message, code: r.code, detail: r.detail, hint: r.hint });
      default:
        return replyRefused(reply, r);
    }
  });
}
