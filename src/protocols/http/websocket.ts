// WebSocket upgrades on /proxy/<connection>/<path>. Everything that can refuse happens
// before the client's upgrade, so a refusal is a plain HTTP answer: the caller's Warden token
// (as for any proxied request), the rule over `GET /path` (recorded, via `websocket`), then
// the target's own upgrade, made first with the connection's credential, so that the
// subprotocol the target chose is the one the client gets and a target that refuses is
// answered as such. Only then is the client upgraded and the two sockets relayed (ws-relay.ts).
// The upgrade itself is @fastify/websocket's (the agent tunnel's plugin), routed as any request.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import WebSocket from 'ws';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import type { Decision } from '../../session/types.ts';
import { callerToken, dropCallerHeaders } from './caller-token.ts';
import { injectCredential } from './credential.ts';
import { httpRefusal } from './errors.ts';
import { AmbiguousPath, proxyTarget } from './request-path.ts';
import { redactedHeaders } from './body-record.ts';
import { MAX_MESSAGE_BYTES } from '../../tunnel/tunnel.ts';
import { Held, WsRelay } from './ws-relay.ts';
import { dialTarget } from './dial-target.ts';
import { judgedFacts } from './request-facts.ts';
import type { HttpProxyDeps } from './proxy.ts';

/** How the proxy answers a refusal, in the shape of its other errors (proxy.ts). */
export interface ProxyAnswers {
  send(res: ServerResponse, status: number, message: string, extra?: Record<string, unknown>): void;
  refuseCommand(res: ServerResponse, d: Exclude<Decision, { action: 'allow' }>): void;
}

// Not passed on: the connection's own headers, and the handshake's, which the upstream leg makes anew.
const NOT_PASSED = /^(connection|keep-alive|proxy-connection|te|trailer|transfer-encoding|upgrade|host|content-length|sec-websocket-.*)$/;
const HANDSHAKE_MS = 30_000;

/** The relay waiting for the client's upgrade, by request. */
const waiting = new WeakMap<IncomingMessage, WsRelay>();

/** Route options for GET /proxy/...: a hook that judges and connects before an upgrade, and the upgraded socket's handler. */
export function websocketRoute(deps: HttpProxyDeps, answers: ProxyAnswers) {
  return {
    exposeHeadRoute: false,
    preHandler: async (req: FastifyRequest, reply: FastifyReply) => {
      if (!req.ws) return;
      // The socket left HTTP when Node saw the upgrade: nothing follows a refusal on it.
      const answer = (write: (res: ServerResponse) => void) => {
        reply.hijack();
        reply.raw.setHeader('connection', 'close');
        reply.raw.once('finish', () => req.raw.socket.destroy());
        write(reply.raw);
      };
      const refuse: Refuse = {
        status: (status, message) => answer((res) => answers.send(res, status, message)),
        decision: (d) => answer((res) => answers.refuseCommand(res, d)),
      };
      try {
        await prepare(req, deps, refuse);
      } catch (e) {
        deps.log.error({ err: (e as Error).message }, 'websocket proxy failed');
        if (!reply.sent && !reply.raw.headersSent) refuse.status(502, `warden: ${(e as Error).message}`);
      }
    },
    wsHandler: (client: WebSocket, req: FastifyRequest) => {
      const relay = waiting.get(req.raw);
      waiting.delete(req.raw);
      if (!relay) return client.terminate();
      relay.attach(client);
    },
  };
}

interface Refuse {
  status(status: number, message: string): void;
  decision(d: Exclude<Decision, { action: 'allow' }>): void;
}

async function prepare(req: FastifyRequest, deps: HttpProxyDeps, refuse: Refuse): Promise<void> {
  const raw = req.raw;
  const h = raw.headers;
  // The client's side of the handshake is checked first (as ws would), so the target is not dialed for nothing.
  if (String(h.upgrade).toLowerCase() !== 'websocket') return refuse.status(400, 'warden: only WebSocket upgrades are passed through');
  if (!/^[+/0-9A-Za-z]{22}==$/.test(String(h['sec-websocket-key'] ?? '')) || h['sec-websocket-version'] !== '13') return refuse.status(400, 'warden: not a WebSocket version 13 handshake');
  const token = callerToken(h);
  if (!token) return refuse.status(401, 'warden: send your Warden access token (Authorization: Bearer, x-api-key or Proxy-Authorization)');
  const clientAddr = `${req.ip}:${req.socket.remotePort ?? 0}`;
  const name = (req.params as { connection: string }).connection;
  const answer = await deps.admit({ credential: { kind: 'token', token }, connection: name, clientAddr });
  if (!answer.ok) {
    const r = httpRefusal(answer.refusal);
    return refuse.status(r.status, `warden: ${r.message}`);
  }
  const conn = answer.connection;
  let target: URL;
  let shownPath: string;
  try {
    ({ target, shownPath } = proxyTarget(conn.url, raw.url ?? '/'));
  } catch (e) {
    if (e instanceof AmbiguousPath) return refuse.status(400, `warden: ${e.message}`);
    throw e;
  }
  const offered = String(h['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);

  const session = await deps.openSession({
    identity: answer.identity, connection: conn.name, connectionType: 'http', protocol: 'http', clientAddr,
    attributes: { userAgent: String(h['user-agent'] ?? ''), method: 'GET', websocket: 'true', requestHeaders: JSON.stringify(redactedHeaders(h)) },
  });
  let relayed = false;
  try {
    // Headers are judged as on any request (an upgrade has no body); the upgrade itself is a fact,
    // so the socket is not taken for a safe GET (http-commands.ts).
    const { facts } = await judgedFacts(raw, { identity: answer.identity, connection: conn, method: 'GET', path: shownPath.split('?')[0]! });
    const decision = await session.command({ text: `GET ${shownPath}`, via: 'websocket', http: { ...facts, upgrade: 'websocket' } });
    if (decision.action !== 'allow') return refuse.decision(decision);
    const startedAt = Date.now();
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(h)) if (!NOT_PASSED.test(k)) headers[k] = v;
    dropCallerHeaders(headers);
    headers.host = target.host;
    // last: a SigV4 signature covers the headers and the path as they leave
    await injectCredential(conn, { method: 'GET', url: target, headers });
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = await dialTarget(deps.dial, conn, target);
    const up = new WebSocket(target, offered, { headers: headers as OutgoingHttpHeaders, createConnection: () => socket as never, handshakeTimeout: HANDSHAKE_MS, maxPayload: MAX_MESSAGE_BYTES });
    // held from now: a target may speak in the same packet as its 101 (a greeting), before the relay exists
    const held = new Held(up);
    const opened = await upstreamOpen(up);
    if (!opened.ok) {
      session.result(decision.commandId, { rowCount: 0, durationMs: Date.now() - startedAt, tag: String(opened.status ?? 502), error: { message: opened.message } });
      return refuse.status(opened.status && opened.status >= 400 ? opened.status : 502, `warden: ${opened.message}`);
    }
    // The client gets the subprotocol the target chose, and none when it chose none.
    if (up.protocol) h['sec-websocket-protocol'] = up.protocol;
    else delete h['sec-websocket-protocol'];
    const relay = new WsRelay(held, {
      masker: session.masker?.enabled ? session.masker : null,
      recordBytes: deps.recordBytes,
      credentialProblem: () => session.credentialProblem(),
      record: {
        result: (summary) => session.result(decision.commandId, summary),
        ended: (reason) => void session.end(reason),
      },
    });
    waiting.set(raw, relay);
    relayed = true;
    if (raw.socket.destroyed) {
      waiting.delete(raw);
      return relay.abort();
    }
    // A client gone before its upgrade completes (or refused by ws) ends the target's socket too.
    raw.socket.once('close', () => {
      if (waiting.get(raw) === relay) {
        waiting.delete(raw);
        relay.abort();
      }
    });
  } finally {
    if (!relayed) await session.end('websocket refused');
  }
}

type Opened = { ok: true } | { ok: false; status?: number; message: string };

function upstreamOpen(up: WebSocket): Promise<Opened> {
  return new Promise((resolve) => {
    up.once('open', () => resolve({ ok: true }));
    up.once('unexpected-response', (_req, res: IncomingMessage) => {
      res.resume();
      up.terminate();
      resolve({ ok: false, status: res.statusCode, message: `the target answered the WebSocket upgrade with ${res.statusCode}` });
    });
    up.once('error', (e: Error) => resolve({ ok: false, message: `cannot open a WebSocket to the target: ${e.message}` }));
  });
}
