// The remote agent: runs next to the resources, dials OUT to the gateway (one
// WebSocket), and for every stream the gateway opens, connects to host:port and relays
// bytes. It holds no target credentials: the gateway runs each protocol's handshake,
// password included, through the stream. When the tunnel drops it reconnects with
// jittered exponential backoff; a refused token (401/403) stops it, since retrying
// cannot help and would only fill the audit log.
import { connect } from 'node:net';
import { hostname } from 'node:os';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { Tunnel, heartbeatMs, MAX_MISSED, MAX_MESSAGE_BYTES } from '../tunnel/tunnel.ts';
import type { TunnelStream } from '../tunnel/stream.ts';
import { FrameType } from '../tunnel/frames.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { serveExec } from '../tunnel/exec-wire.ts';
import { EXEC_VERSION } from '../tunnel/exec-spawn.ts';

export interface AgentOptions {
  /** gateway base URL: http(s)://host:port (ws(s):// accepted too) */
  gateway: string;
  token: string;
  version: string;
  log: Logger;
  hostname?: string;
  backoff?: BackoffOptions;
  dialTimeoutMs?: number;
  /** run commands of exec connections the gateway sends (default true; `warden agent --no-exec` turns it off) */
  exec?: boolean;
}

export class AgentRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentRefusedError';
  }
}

export function tunnelUrl(gateway: string): string {
  const u = new URL(gateway);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`gateway URL must be http(s):// or ws(s)://, got ${gateway}`);
  u.pathname = u.pathname.replace(/\/+$/, '') + '/api/v1/agents/connect';
  return u.toString();
}

export class WardenAgent {
  private readonly url: string;
  private readonly backoff: Backoff;
  private ws: WebSocket | null = null;
  private tunnel: Tunnel | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private done!: (e?: Error) => void;
  /** settles when the agent stops: resolves on stop(), rejects when the gateway refuses the token */
  readonly finished: Promise<void>;

  constructor(private readonly opts: AgentOptions) {
    this.url = tunnelUrl(opts.gateway);
    this.backoff = new Backoff(opts.backoff);
    this.finished = new Promise<void>((resolve, reject) => (this.done = (e) => (e ? reject(e) : resolve())));
  }

  start(): this {
    this.connect();
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.tunnel?.close('agent shutting down');
    this.ws?.terminate();
    this.done();
  }

  private connect(): void {
    if (this.stopping) return;
    const log = this.opts.log;
    const ws = new WebSocket(this.url, {
      headers: {
        authorization: `Bearer ${this.opts.token}`,
        'x-warden-agent-version': this.opts.version,
        'x-warden-agent-hostname': this.opts.hostname ?? hostname(),
        // the exec spec version it runs: the gateway sends exec streams only to an agent that says so
        ...(this.opts.exec === false ? {} : { 'x-warden-agent-exec': String(EXEC_VERSION) }),
      },
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE_BYTES,
      // Client masking defends browsers' intermediaries from cache poisoning; the agent
      // is no browser (and TLS hides the bytes anyway), so a zero mask spares a copy
      // and an XOR of every byte sent.
      generateMask: (mask: Buffer) => void mask.fill(0),
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    let failure = 'connection failed';
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d.slice(0, 2000)));
      res.on('end', () => {
        const detail = (() => {
          try {
            return (JSON.parse(body) as { error?: string }).error ?? body;
          } catch {
            return body;
          }
        })();
        if (res.statusCode === 401 || res.statusCode === 403) {
          const msg = `the gateway refused the agent token (HTTP ${res.statusCode}): ${detail}`;
          log.error({ status: res.statusCode }, msg);
          this.stopping = true;
          ws.terminate();
          this.done(new AgentRefusedError(msg));
          return;
        }
        failure = `HTTP ${res.statusCode}: ${detail}`;
        ws.terminate();
      });
    });
    ws.on('error', (e: Error) => (failure = e.message));
    ws.once('open', () => this.attach(ws));
    ws.once('close', () => {
      if (this.tunnel) return; // the tunnel's close handler reconnects
      this.retry(failure);
    });
  }

  private attach(ws: WebSocket): void {
    const log = this.opts.log;
    const tunnel = new Tunnel(ws, {
      peer: 'gateway',
      heartbeatMs: heartbeatMs(),
      maxMissed: MAX_MISSED,
      onOpen: (stream, target) => this.relay(tunnel, stream, target),
      onExec: (stream) => {
        // the spec's own version is checked on it (exec-spawn.ts specProblem)
        tunnel.frame(FrameType.OPENED, stream.id);
        serveExec(stream, { enabled: this.opts.exec !== false });
      },
    });
    this.tunnel = tunnel;
    tunnel.on('hello', (info) => {
      this.backoff.reset();
      log.info({ agent: info.agent, gateway: this.opts.gateway }, 'agent connected to the gateway');
    });
    tunnel.on('close', (reason) => {
      this.tunnel = null;
      if (!this.stopping) this.retry(reason);
    });
  }

  private retry(reason: string): void {
    if (this.stopping) return;
    const delay = this.backoff.next();
    this.opts.log.warn({ reason, retryInMs: delay }, 'gateway unreachable; reconnecting');
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** One stream: dial the target and relay bytes both ways, with backpressure (pipe). */
  private relay(tunnel: Tunnel, stream: TunnelStream, target: { host: string; port: number }): void {
    const where = `${target.host}:${target.port}`;
    const sock = connect({ host: target.host, port: target.port, noDelay: true });
    let connected = false;
    const timer = setTimeout(() => sock.destroy(new Error('timed out')), this.opts.dialTimeoutMs ?? 10_000);
    sock.once('connect', () => {
      clearTimeout(timer);
      connected = true;
      sock.setKeepAlive(true, 30_000);
      tunnel.frame(FrameType.OPENED, stream.id);
      sock.pipe(stream);
      stream.pipe(sock);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = e.code ?? e.message;
      stream.destroy(new Error(connected ? `connection to ${where} failed: ${code}` : `cannot connect to ${where}: ${code}`));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (!stream.destroyed && !connected) stream.destroy(new Error(`cannot connect to ${where}`));
    });
    stream.on('error', () => sock.destroy());
    stream.on('close', () => {
      if (!stream.readableEnded || !stream.writableFinished) sock.destroy();
    });
  }
}
