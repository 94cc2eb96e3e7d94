// POST /api/v1/exec with `argv`: one command on an exec connection, streamed. Refusals come
// before anything runs, as plain JSON answers with the same codes as a statement's (403
// blocked, 202 held for review, 400 bad argv). An allowed command answers 200 with
// `application/x-ndjson`, one JSON object per line, as the output comes:
//   {"type":"start","session":"<id>"}
//   {"type":"stdout","data":"..."}   {"type":"stderr","data":"..."}   (masked text)
//   {"type":"exit","code":0,"signal":null,"durationMs":12,"masked":false,"truncated":false[,"error":"..."]}
// A caller that disconnects kills the command (its whole process group).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.ts';
import type { ExecRunner, ExecRunRefusal } from '../protocols/exec/runner.ts';
import { HttpError } from './http-api.ts';
import { replyRefused } from './exec-refusals.ts';

export async function streamExec(runner: ExecRunner, who: Identity, connection: string, argv: unknown, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const res = reply.raw;
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  let open = false;
  const line = (o: object): void | Promise<void> => {
    if (res.destroyed) return;
    if (res.write(`${JSON.stringify(o)}\n`)) return;
    return new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  };
  const o = await runner.run({
    identity: who, connection, args: argv, frontDoor: 'exec', clientAddr: `${req.ip}:${req.socket.remotePort ?? 0}`, signal: gone.signal,
    started: (session) => {
      reply.hijack();
      // connection: close: a socket kept alive after a stream that ended while the server was
      // closing would hold its close for the keep-alive timeout
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' });
      open = true;
      void line({ type: 'start', session });
    },
    write: (fd, data) => line({ type: fd === 1 ? 'stdout' : 'stderr', data }),
  });
  if (o.ok) {
    if (!open) return reply; // not reached: an allowed command always starts
    await line({ type: 'exit', code: o.code, signal: o.signal, durationMs: o.durationMs, masked: o.masked, truncated: o.truncated, ...(o.error ? { error: o.error } : {}) });
    res.end();
    return undefined;
  }
  return refuse(reply, o.refusal);
}

function refuse(reply: FastifyReply, r: ExecRunRefusal): FastifyReply {
  if (r.kind === 'invalid') throw new HttpError(400, r.message);
  return replyRefused(reply, r);
}
