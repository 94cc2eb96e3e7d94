// The http engine's front door: /proxy/<connection>/<path> on the gateway's HTTP listener.
// Each request is admitted with the caller's Warden token (taken off the request), judged and
// recorded as a command (`POST /v1/messages`) before it leaves, sent with the connection's
// own credential, and answered as it streams: bodies are never buffered, text bodies (JSON,
// text, server-sent events) are masked on the way through, a client that goes away aborts
// the request upstream. An SDK needs only its base URL and its key set to the gateway's.
import { request as httpRequest, type Agent, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Duplex, Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { HttpConnectionConfig } from '../../config/schema.ts';
import type { Masker } from '../../masking/index.ts';
import type { AdmissionAnswer, AdmissionCredential } from '../../session/admission.ts';
import type { Decision, OpenSession } from '../../session/types.ts';
import { callerToken, dropCallerHeaders } from './caller-token.ts';
import { shieldPathFormAnswer } from './path-form.ts';
import { injectCredential } from './credential.ts';
import { httpRefusal } from './errors.ts';
import { AmbiguousPath, proxyTarget } from './request-path.ts';
import { createSseMasker } from './sse-deltas.ts';
import { BodySample, redactedHeaders } from './body-record.ts';
import { websocketRoute } from './websocket.ts';
import { UpstreamPool } from './upstream-pool.ts';
import { judgedFacts, type RequestScope } from './request-facts.ts';
import type { RequestBody } from './request-body.ts';
import { bodyKind, labelledText, readHead, SNIFF_BYTES, type BodyKind } from './body-kind.ts';
import { exchangeRecord, type Exchange } from './exchange-record.ts';
import { llmApi, ResponseAssembler, type LlmApi } from './llm-message.ts';
import { SseRecorder } from './sse-record.ts';
import { openMeteredCall, sendBudgetRefusal, type BudgetLedger, type MeteredCall } from './llm/metered-call.ts';

export interface HttpProxyDeps {
  admit(req: { credential: AdmissionCredential; connection: string; clientAddr: string }): Promise<AdmissionAnswer<HttpConnectionConfig>>;
  openSession: OpenSession;
  /** a byte stream to host:port, through the connection's agent */
  dial(c: { host: string; port: number; agent: string }): Promise<Duplex>;
  masker(connection: string): Masker | null;
  /** how much of each body the record keeps */
  recordBytes: number;
  /** whether a rule that could apply to this request reads its JSON body (then it is read before judging) */
  readsBody?(r: RequestScope): boolean;
  /** LLM usage and budgets (src/usage/ledger.ts); null: not counted */
  usage?: BudgetLedger | null;
  log: Logger;
}

// Hop-by-hop headers (RFC 9110 7.6.1) are the connection's, not the message's.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);
const UNPACK: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

export function mountHttpProxy(app: FastifyInstance, deps: HttpProxyDeps): void {
  const pool = new UpstreamPool(deps.dial);
  app.addHook('onClose', async () => pool.close());
  void app.register(async (scope) => {
    // Bodies are streamed to the target as they come, never parsed here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const handler = (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      void proxy(req, reply.raw, deps, pool).catch((e: Error) => {
        deps.log.error({ err: e.message }, 'http proxy failed');
        if (!reply.raw.headersSent) send(reply.raw, 502, `warden: ${e.message}`);
        else reply.raw.destroy();
      });
    };
    // GET may be a WebSocket upgrade (websocket.ts), judged and connected before it is made.
    const ws = websocketRoute(deps, { send, refuseCommand });
    for (const url of ['/proxy/:connection', '/proxy/:connection/*']) {
      scope.route({ method: scope.supportedMethods.filter((m) => m !== 'GET'), url, handler });
      scope.route({ method: 'GET', url, handler, ...ws });
    }
  });
}

function send(res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}): void {
  const body = JSON.stringify({ type: 'error', error: { type: status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : status === 403 ? 'permission_error' : 'api_error', message, ...extra } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function proxy(req: FastifyRequest, res: ServerResponse, deps: HttpProxyDeps, pool: UpstreamPool): Promise<void> {
  const raw = req.raw;
  const name = (req.params as { connection: string }).connection;
  // rules see the path the target will get, made one form first (request-path.ts)
  const clientAddr = `${req.ip}:${req.socket.remotePort ?? 0}`;
  const token = callerToken(raw.headers);
  if (!token) return send(res, 401, 'warden: send your Warden access token as the API key (x-api-key or Authorization: Bearer)');
  const answer = await deps.admit({ credential: { kind: 'token', token }, connection: name, clientAddr });
  if (!answer.ok) {
    const r = httpRefusal(answer.refusal);
    return send(res, r.status, `warden: ${r.message}`);
  }
  const conn = answer.connection;
  let target: URL, rest: string, shownPath: string;
  try {
    ({ target, path: rest, shownPath } = proxyTarget(conn.url, raw.url ?? '/'));
  } catch (e) {
    if (e instanceof AmbiguousPath) return send(res, 400, `warden: ${e.message}`);
    throw e;
  }
  const method = raw.method ?? 'GET';
  // Headers, and the JSON body when a rule needs it, are judged too (request-facts.ts).
  const judged = await judgedFacts(raw, { identity: answer.identity, connection: conn, method, path: rest }, deps.readsBody);

  const session = await deps.openSession({
    identity: answer.identity, connection: conn.name, connectionType: 'http', protocol: 'http', clientAddr,
    attributes: { userAgent: String(raw.headers['user-agent'] ?? ''), method, requestHeaders: JSON.stringify(redactedHeaders(raw.headers)) },
  });
  let llm: MeteredCall | null = null;
  try {
    const decision = await session.command({ text: `${method} ${shownPath}`, via: 'http', http: judged.facts, ...(judged.params ? { params: judged.params } : {}) });
    if (decision.action !== 'allow') return refuseCommand(res, decision);
    const masker = session.masker?.enabled ? session.masker : null;
    const api = llmApi(method, rest);
    // An LLM request is metered; on a budgeted connection it holds its worst case first (llm/).
    const opened = deps.usage ? await openMeteredCall({ conn, identity: answer.identity, method, targetPath: target.pathname, raw, read: judged.body, ledger: deps.usage }) : null;
    if (opened && !opened.ok) {
      session.result(decision.commandId, { rowCount: 0, durationMs: 0, tag: String(opened.status), error: { code: opened.budget ? 'budget_exceeded' : 'unreadable_body', message: opened.message } });
      return sendBudgetRefusal(res, opened);
    }
    llm = opened?.call ?? null;
    // a body read whole for the budget goes on as it is; else what judging read, then the rest
    const read = llm?.body ? { bytes: llm.body, complete: true } : judged.body;
    const startedAt = Date.now();
    try {
      // the path form answers from the console's origin (path-form.ts); the host form has one of its own
      const pathForm = req.originalUrl.startsWith('/proxy/');
      await forward(raw, res, { method, target, conn, deps, masker, api, agent: pool.agent(conn), read, llm, pathForm }, (x) => {
        // bodies, SSE events and an LLM call's messages, masked (exchange-record.ts), and its usage
        session.result(decision.commandId, { rowCount: 1, tag: String(x.status), durationMs: Date.now() - x.startedAt, ...exchangeRecord(x, masker, api), ...(llm ? { usage: llm.summary() } : {}) });
      });
    } catch (e) {
      // No answer came: the target could not be reached, a credential could not be minted, or
      // the client went away first (which aborts the request). The record says which.
      const gone = res.destroyed && !res.headersSent;
      const message = gone ? 'the client went away before the target answered' : (e as Error).message;
      session.result(decision.commandId, { rowCount: 0, durationMs: Date.now() - startedAt, tag: gone ? 'aborted' : '502', error: { code: gone ? 'client_gone' : 'upstream_failed', message } });
      if (gone) return;
      deps.log.warn({ connection: conn.name, err: message }, 'http request failed');
      if (!res.headersSent) send(res, 502, `warden: ${message}`);
      else res.destroy();
    }
  } finally {
    // also when the client went away or the target failed: what was counted is settled
    await llm?.settle().catch((e: Error) => deps.log.error({ err: e.message }, 'LLM usage could not be settled'));
    await session.end(res.writableFinished ? 'request done' : 'client went away');
  }
}

function refuseCommand(res: ServerResponse, d: Exclude<Decision, { action: 'allow' }>): void {
  if (d.action === 'review') return send(res, 403, `warden: held for review ${d.reviewId}: ${d.message}; send the same request again once it is approved`, { review: d.reviewId });
  send(res, 403, `warden: blocked: ${d.reason}`);
}

interface Forward {
  method: string;
  target: URL;
  conn: HttpConnectionConfig;
  deps: HttpProxyDeps;
  masker: Masker | null;
  /** keep-alive connections to the target (upstream-pool.ts) */
  agent: Agent;
  /** the part of the body already read to judge it, sent first */
  read?: RequestBody;
  /** the LLM API the request speaks, if any (its messages are assembled for the record) */
  api: LlmApi | null;
  /** the LLM meter of this request, when it is one */
  llm?: MeteredCall | null;
  /** reached as /proxy/<connection>/... on the gateway's own origin (not the host form) */
  pathForm: boolean;
}

async function forward(raw: IncomingMessage, res: ServerResponse, f: Forward, done: (x: Exchange) => void): Promise<void> {
  const startedAt = Date.now();
  const cap = f.deps.recordBytes;
  const requestSample = new BodySample(cap);
  const { target, conn } = f;
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(raw.headers)) if (!HOP.has(k)) headers[k] = v;
  dropCallerHeaders(headers);
  if (raw.headers['content-length'] !== undefined) headers['content-length'] = raw.headers['content-length'];
  else if (raw.headers['transfer-encoding']) headers['transfer-encoding'] = 'chunked';
  // The masker and the LLM meter read text: the target is asked not to compress what it sends back.
  if (f.masker || f.llm) headers['accept-encoding'] = 'identity';
  headers.host = target.host;
  // after every other header: a SigV4 signature covers the headers and the path as they leave
  await injectCredential(conn, { method: f.method, url: target, headers });
  const up = httpRequest({ method: f.method, path: `${target.pathname}${target.search}`, headers, agent: f.agent });
  // A client that goes away stops the request upstream (an LLM stops generating).
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  // Sampled as it is piped: a listener added earlier would start the flow before the pipe.
  raw.on('data', (c: Buffer) => requestSample.add(c));
  if (f.read) requestSample.add(f.read.bytes);
  if (f.read?.complete) up.end(f.read.bytes);
  else {
    if (f.read?.bytes.length) up.write(f.read.bytes);
    raw.pipe(up);
  }
  const answer = await new Promise<IncomingMessage>((resolve, reject) => {
    up.once('response', resolve);
    up.once('error', reject);
  }).catch((e: Error) => {
    throw new Error(`cannot reach connection "${conn.name}": ${e.message}`);
  });
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  if (f.pathForm) shieldPathFormAnswer(out, conn.name);
  // With masking on, what the body is comes from its first bytes, not its label (body-kind.ts).
  // The target was asked for no compression; a compressed body is read anyway, never passed on
  // unread (masking would not see it), and one that cannot be read is refused.
  let body: Readable = answer;
  let kind: BodyKind = { kind: 'binary' };
  let head: { chunks: Buffer[]; ended: boolean } = { chunks: [], ended: false };
  const refuse = (message: string, note: string) => {
    answer.destroy();
    send(res, 502, `warden: ${message}`);
    done({ status: 502, masked: false, startedAt, request: requestSample, response: null, responseBytes: 0, headers: answer.headers, note });
  };
  const contentType = answer.headers['content-type'];
  if (f.masker || f.llm) {
    const encoding = String(answer.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') {
      const unpack = UNPACK[encoding];
      if (!unpack) return refuse(`the target's answer is encoded with "${encoding}", which Warden cannot read to ${f.masker ? 'mask' : 'meter'} it`, `refused: encoded with ${encoding}`);
      body = answer.pipe(unpack());
      delete out['content-encoding'];
    }
  }
  const unpacked = body;
  // The meter sees the target's bytes before masking; a stream it cuts ends after the client has its end.
  if (f.llm) body = body.pipe(f.llm.tap(answer.statusCode ?? 0, String(contentType ?? ''), () => res.once('finish', () => answer.destroy())));
  if (f.masker) {
    // A body labelled text is text from its first byte (a NUL in it ends it, below), so its
    // headers go out at once; any other body is read for up to SNIFF_BYTES first.
    if (!labelledText(contentType)) {
      head = await readHead(body, SNIFF_BYTES);
      // a body whose last chunk was the one read may have ended (unheard) meanwhile
      if (body.readableEnded) head.ended = true;
    }
    kind = bodyKind(contentType, Buffer.concat(head.chunks), head.ended);
    if (kind.kind === 'refuse') return refuse(`the target's answer cannot be masked: ${kind.reason}`, `refused: ${kind.reason}`);
  }
  const textual = kind.kind === 'text';
  if (!textual && body === answer && answer.headers['content-length'] !== undefined) out['content-length'] = answer.headers['content-length'];
  res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
  // A body of known length is on its way: the headers go out with its first bytes, one write
  // fewer per request (bench:http). A stream (SSE, chunked) may wait: its headers go now.
  if (answer.headers['content-length'] === undefined || /^text\/event-stream/i.test(String(contentType ?? ''))) res.flushHeaders();
  let masked = false;
  let cut: string | undefined;
  let responseBytes = 0;
  // With masking off a text body passes as it comes, and the record still reads it (events, messages).
  const recorded = textual || (!f.masker && labelledText(contentType));
  const responseSample = recorded ? new BodySample(cap) : null;
  const sseStream = recorded && /^text\/event-stream/i.test(String(contentType));
  const llm = f.api && recorded ? new ResponseAssembler(f.api, cap) : null;
  const events = sseStream ? new SseRecorder(cap, startedAt, llm ? (e) => llm.event(e.data) : undefined) : null;
  if (kind.kind !== 'text') {
    // binary (proven by its first bytes), empty, or masking off: passed as it comes
    for (const c of head.chunks) {
      responseBytes += c.length;
      res.write(c);
    }
    const decoder = events ? new StringDecoder('utf8') : null;
    body.on('data', (c: Buffer) => {
      responseBytes += c.length;
      responseSample?.add(c);
      if (decoder) events!.push(decoder.write(c));
    });
    if (decoder) {
      body.on('end', () => {
        events!.push(decoder.end());
        events!.end();
      });
    }
    if (head.ended) res.end();
    else body.pipe(res);
  } else {
    // Text is masked as it streams. Server-sent events go out event by event, the text
    // deltas and tool arguments of an LLM answer masked as one text each (sse-deltas.ts);
    // other text holds back only an unfinished line. A NUL byte later in a text body means it
    // is not text Warden reads: the answer is cut there (fail closed).
    const charset = kind.charset;
    const sm = sseStream ? createSseMasker(f.masker!) : f.masker!.createStreamMasker();
    const decoder = new StringDecoder(charset);
    const wire = (s: string) => (charset === 'latin1' ? Buffer.from(s, 'latin1') : s);
    const sent = (s: string) => {
      responseSample!.add(wire(s));
      events?.push(s);
      return s;
    };
    const onChunk = (chunk: Buffer) => {
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        // Cut at the NUL itself, wherever the target's writes fell into chunks: the text
        // before it goes out masked (whole lines; an unfinished one is held back, and dropped),
        // then the connection is closed once that is written.
        cut = 'the answer was cut at a NUL byte: not text Warden reads to mask';
        body.destroy();
        const before = nul > 0 ? sent(sm.push(decoder.write(chunk.subarray(0, nul)))) : '';
        if (before) res.write(wire(before), () => res.destroy());
        else res.destroy();
        return;
      }
      const safe = sent(sm.push(decoder.write(chunk)));
      if (safe && !res.write(wire(safe))) body.pause();
    };
    const finish = () => {
      res.end(wire(sent(sm.push(decoder.end())) + sent(sm.end())));
      events?.end();
      masked = sm.masked;
    };
    for (const c of head.chunks) onChunk(c);
    res.on('drain', () => body.resume());
    if (head.ended) finish();
    else {
      body.on('data', onChunk);
      body.on('end', finish);
      body.resume();
    }
  }
  if (!res.writableFinished && !res.destroyed) await new Promise<void>((resolve) => {
    res.once('close', resolve);
    res.once('finish', resolve);
    for (const r of new Set([answer, unpacked, body])) {
      r.once('error', () => {
        res.destroy();
        resolve();
      });
    }
  });
  done({
    status: answer.statusCode ?? 0, masked, startedAt, request: requestSample, response: responseSample, responseBytes: responseSample?.size ?? responseBytes, headers: answer.headers,
    events, llm, ...(kind.kind === 'binary' && f.masker ? { note: 'binary, not masked' } : {}), ...(cut ? { cut } : {}),
  });
}
