// The git door: /git/<connection>/<repo path>/... on the gateway's HTTP listener, for git's
// smart HTTP protocol only (info/refs?service=..., git-upload-pack, git-receive-pack; the
// dumb protocol's file paths are refused). The caller's Warden token is its password (HTTP
// Basic, any user name; or Bearer): a request without one is asked for it with a 401, so git
// prompts or asks its credential helper (`warden git-credential`). The caller's Authorization
// never leaves; the connection's own credential is put on what is sent to the remote.
// Each request is a session with one command, judged and recorded before anything reaches
// the remote (exchange.ts).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { GitConnectionConfig } from '../../config/schema.ts';
import type { AdmissionAnswer, AdmissionCredential } from '../../session/admission.ts';
import type { OpenSession } from '../../session/types.ts';
import { UpstreamPool } from '../http/upstream-pool.ts';
import type { Dial } from '../http/dial-target.ts';
import { httpRefusal } from '../http/errors.ts';
import { AmbiguousPath, normalizePath } from '../http/request-path.ts';
import { advertise, fetchPack, receivePack, type Exchange } from './exchange.ts';
import { sendText } from './reply.ts';

export interface GitDoorDeps {
  admit(req: { credential: AdmissionCredential; connection: string; clientAddr: string }): Promise<AdmissionAnswer<GitConnectionConfig>>;
  openSession: OpenSession;
  /** a byte stream to host:port, through the connection's agent */
  dial: Dial;
  /** where request bodies wait while they are judged (in the data dir: packs are the repositories' contents) */
  spoolDir: string;
  log: Logger;
}

type Service = 'git-upload-pack' | 'git-receive-pack';
type Route = { repo: string; kind: 'advertise'; service: Service } | { repo: string; kind: 'rpc'; service: Service };

export function mountGitDoor(app: FastifyInstance, deps: GitDoorDeps): void {
  const pool = new UpstreamPool(deps.dial);
  app.addHook('onClose', async () => pool.close());
  void app.register(async (scope) => {
    // bodies are read by the door itself (spooled, then judged)
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const handler = (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      void serve(req, reply.raw, deps, pool).catch((e: Error) => {
        deps.log.error({ err: e.message }, 'git door failed');
        if (!reply.raw.headersSent) sendText(reply.raw, 502, `warden: ${e.message}`);
        else reply.raw.destroy();
      });
    };
    scope.route({ method: scope.supportedMethods, url: '/git/:connection/*', handler });
    scope.route({ method: scope.supportedMethods, url: '/git/:connection', handler });
  });
}

const ASK = { 'www-authenticate': 'Basic realm="Warden"' };

async function serve(req: FastifyRequest, res: ServerResponse, deps: GitDoorDeps, pool: UpstreamPool): Promise<void> {
  const raw = req.raw;
  const name = (req.params as { connection: string }).connection;
  let route: Route | null;
  try {
    route = routeOf(raw.method ?? 'GET', raw.url ?? '/');
  } catch (e) {
    if (e instanceof AmbiguousPath) return sendText(res, 400, `warden: ${e.message}`);
    throw e;
  }
  if (!route) return sendText(res, 404, 'warden: only git\'s smart HTTP protocol passes the git door (info/refs?service=git-upload-pack|git-receive-pack, git-upload-pack, git-receive-pack)');
  const token = callerToken(raw.headers.authorization);
  if (!token) return sendText(res, 401, 'warden: give your Warden access token as the password (any user name), or use `warden git-credential` as credential helper', ASK);
  const clientAddr = `${req.ip}:${req.socket.remotePort ?? 0}`;
  const answer = await deps.admit({ credential: { kind: 'token', token }, connection: name, clientAddr });
  if (!answer.ok) {
    const r = answer.refusal;
    if (r.kind === 'bad_credential') return sendText(res, 401, `warden: invalid or expired token (${r.message})`, ASK);
    if (r.kind === 'unknown_connection') return sendText(res, 404, `warden: ${r.message} (clone http://<gateway>/git/<connection>/<repo path>)`);
    const h = httpRefusal(r);
    return sendText(res, h.status, `warden: ${h.message}`);
  }
  const x: Exchange = {
    raw, res, conn: answer.connection, identity: answer.identity, clientAddr, repo: route.repo, pool, deps,
  };
  if (route.kind === 'advertise') return advertise(x, route.service);
  if (route.service === 'git-upload-pack') return fetchPack(x);
  return receivePack(x);
}

/** `Authorization: Basic base64(<any>:<token>)` or `Bearer <token>`; null when neither. */
export function callerToken(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1]!;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return null;
  const text = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  const password = colon < 0 ? '' : text.slice(colon + 1);
  return password || null;
}

/** The smart HTTP request a URL names, its repository path normalized; null for anything else. */
export function routeOf(method: string, url: string): Route | null {
  const [path, query = ''] = url.split(/\?(.*)/s, 2) as [string, string?];
  const m = /^\/git\/[^/]+(\/.*)$/.exec(path);
  if (!m) return null;
  const rest = normalizePath(m[1]!);
  const params = new URLSearchParams(query);
  const info = /^\/(.+)\/info\/refs$/.exec(rest);
  if (info && method === 'GET') {
    const service = params.get('service');
    if ([...params.keys()].length !== 1 || (service !== 'git-upload-pack' && service !== 'git-receive-pack')) return null;
    return { repo: info[1]!, kind: 'advertise', service };
  }
  const rpc = /^\/(.+)\/(git-upload-pack|git-receive-pack)$/.exec(rest);
  if (rpc && method === 'POST' && query === '') return { repo: rpc[1]!, kind: 'rpc', service: rpc[2] as Service };
  return null;
}
