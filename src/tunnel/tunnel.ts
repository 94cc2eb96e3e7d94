// One tunnel: a WebSocket carrying many TunnelStreams, used the same way on both ends.
// The gateway end opens streams (openStream); the agent end answers OPEN frames
// (onOpen). Both ends ping on a timer and drop the tunnel after `maxMissed` unanswered
// pings, so a silently dead peer (a cut cable, a frozen process) is noticed.
import { EventEmitter } from 'node:events';
import type { WebSocket, RawData } from 'ws';
import { FrameType, FrameError, decodeFrames, encodeFrame, encodeHeader, type Frame } from './frames.ts';
import { TunnelStream, DEFAULT_WINDOW, type StreamSink } from './stream.ts';

/** Flush a batch early once it holds this much, to keep WebSocket messages moderate. */
const FLUSH_AT_BYTES = 512 * 1024;
/** Streams stop sending DATA while this much waits in the WebSocket, and go on below SEND_LOW_BYTES. */
export const SEND_HIGH_BYTES = 2 * FLUSH_AT_BYTES;
const SEND_LOW_BYTES = FLUSH_AT_BYTES / 2;
/** Largest WebSocket message either end accepts: a batch, flushed at FLUSH_AT_BYTES plus one frame. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Heartbeat period (env for tests and slow links); a tunnel drops after MAX_MISSED silent periods. */
export const heartbeatMs = (): number => Number(process.env.WARDEN_TUNNEL_HEARTBEAT_MS ?? 10_000);
export const MAX_MISSED = 3;

export interface TunnelOptions {
  /** who is at the other end, for error messages: `agent "db-vpc"`, `gateway` */
  peer: string;
  heartbeatMs: number;
  maxMissed: number;
  window?: number;
  /** agent end: the gateway asks for a new stream to host:port */
  onOpen?: (stream: TunnelStream, target: { host: string; port: number }) => void;
  /** agent end: the gateway asks to run a command of an exec connection (src/tunnel/exec-wire.ts) */
  onExec?: (stream: TunnelStream, version: number) => void;
  /** every heartbeat tick (the gateway re-checks the agent's token here) */
  onHeartbeat?: () => void;
}

/** Events: 'close' (reason: string), 'hello' (info from the gateway). */
export class Tunnel extends EventEmitter implements StreamSink {
  private readonly streams = new Map<number, TunnelStream>();
  private readonly opening = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private nextId = 1;
  private missed = 0;
  private readonly timer: NodeJS.Timeout;
  private closedReason: string | null = null;
  /** last time any frame arrived (ms since epoch) */
  lastSeen = Date.now();
  /** round trip of the last answered ping, ms */
  rttMs: number | null = null;
  private readonly window: number;
  /** some stream is holding DATA until the WebSocket drains */
  private holding = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: TunnelOptions,
  ) {
    super();
    this.window = opts.window ?? DEFAULT_WINDOW;
    ws.on('message', (data: RawData) => this.onMessage(data));
    ws.on('close', (code: number, reason: Buffer) => this.close(reason.length ? reason.toString() : code === 1006 ? 'connection lost' : `closed (${code})`));
    ws.on('error', (e: Error) => this.close(e.message));
    this.timer = setInterval(() => this.tick(), opts.heartbeatMs);
    this.timer.unref();
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Gateway end: a new stream to host:port through the agent; resolves once the agent has dialed it. */
  openStream(host: string, port: number, timeoutMs: number): Promise<TunnelStream> {
    return this.open({ host, port }, `connect to ${host}:${port}`, timeoutMs);
  }

  /**
   * Gateway end: a stream on which the agent runs one command (exec-wire.ts). Only for an
   * agent that said it runs them (agents.ts): an older one would take the OPEN for a broken peer.
   */
  openExec(version: number, timeoutMs: number): Promise<TunnelStream> {
    return this.open({ exec: version }, 'accept a command', timeoutMs);
  }

  private open(what: Record<string, unknown>, doing: string, timeoutMs: number): Promise<TunnelStream> {
    if (this.closedReason) return Promise.reject(new Error(`${this.opts.peer} disconnected: ${this.closedReason}`));
    const id = this.nextId++;
    const stream = new TunnelStream(id, this, this.window);
    this.streams.set(id, stream);
    return new Promise<TunnelStream>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms waiting for ${this.opts.peer} to ${doing}`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        this.opening.delete(id);
        stream.destroy();
        reject(e);
      };
      this.opening.set(id, {
        resolve: () => {
          clearTimeout(timer);
          this.opening.delete(id);
          resolve(stream);
        },
        reject: fail,
      });
      this.frame(FrameType.OPEN, id, JSON.stringify(what));
    });
  }

  /** Send HELLO (gateway end, once the agent is accepted). */
  hello(info: Record<string, unknown>): void {
    this.frame(FrameType.HELLO, 0, JSON.stringify(info));
  }

  // -- StreamSink --

  frame(type: FrameType, stream: number, payload?: Buffer | string): void {
    this.queue(encodeFrame(type, stream, payload));
  }

  data(stream: number, payload: Buffer): void {
    this.queue(encodeHeader(FrameType.DATA, stream, payload.length));
    this.queue(payload);
  }

  forget(stream: number): void {
    this.streams.delete(stream);
  }

  saturated(): boolean {
    if (this.ws.bufferedAmount + this.outBytes < SEND_HIGH_BYTES) return false;
    this.holding = true;
    return true;
  }

  // Called as each message is written to the socket: once what waits is below the low mark,
  // streams that held DATA send again.
  private readonly onSent = (): void => {
    if (!this.holding || this.closedReason || this.ws.bufferedAmount + this.outBytes >= SEND_LOW_BYTES) return;
    this.holding = false;
    for (const s of this.streams.values()) s.resumeSending();
  };

  // Frames queued during one event-loop turn go out as one WebSocket message.
  private queue(buf: Buffer): void {
    if (this.closedReason) return;
    this.out.push(buf);
    this.outBytes += buf.length;
    if (this.outBytes >= FLUSH_AT_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.closedReason) return;
    const msg = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    this.ws.send(msg, { binary: true }, this.onSent);
  }

  // -- frames from the peer --

  private onMessage(data: RawData): void {
    this.lastSeen = Date.now();
    const msg = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    try {
      decodeFrames(msg, (f) => this.dispatch(f));
    } catch (e) {
      this.close(`protocol error: ${(e as Error).message}`);
    }
  }

  private dispatch(f: Frame): void {
    if (f.stream === 0) {
      if (f.type === FrameType.PING) this.frame(FrameType.PONG, 0, Buffer.from(f.payload));
      else if (f.type === FrameType.PONG) {
        this.missed = 0;
        if (f.payload.length === 8) this.rttMs = Date.now() - Number(f.payload.readBigUInt64BE());
      } else if (f.type === FrameType.HELLO) this.emit('hello', JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>);
      else throw new FrameError(`frame type ${f.type} needs a stream id`);
      return;
    }
    if (f.type === FrameType.OPEN) return this.acceptOpen(f);
    // Frames for a stream we already dropped are normal (both ends closing at once).
    const s = this.streams.get(f.stream);
    if (!s) return;
    switch (f.type) {
      case FrameType.OPENED: this.opening.get(f.stream)?.resolve(); break;
      case FrameType.DATA: s.onData(f.payload); break;
      case FrameType.WINDOW:
        if (f.payload.length !== 4) throw new FrameError('WINDOW payload must be 4 bytes');
        s.onWindow(f.payload.readUInt32BE(0));
        break;
      case FrameType.CLOSE: s.onEnd(); break;
      case FrameType.ERROR: {
        const reason = f.payload.toString('utf8') || 'stream aborted by the peer';
        const o = this.opening.get(f.stream);
        s.abort(reason);
        o?.reject(new Error(reason));
        break;
      }
      default: throw new FrameError(`unexpected frame type ${f.type}`);
    }
  }

  private acceptOpen(f: Frame): void {
    if (!this.opts.onOpen) throw new FrameError('OPEN is only valid from the gateway');
    if (this.streams.has(f.stream)) throw new FrameError(`stream ${f.stream} is already open`);
    const target = JSON.parse(f.payload.toString('utf8')) as { host?: unknown; port?: unknown; exec?: unknown };
    if (target.exec !== undefined) {
      const stream = new TunnelStream(f.stream, this, this.window);
      this.streams.set(f.stream, stream);
      if (typeof target.exec !== 'number' || !this.opts.onExec) stream.destroy(new Error('this agent does not run exec connections'));
      else this.opts.onExec(stream, target.exec);
      return;
    }
    if (typeof target.host !== 'string' || typeof target.port !== 'number') throw new FrameError('OPEN needs { host, port }');
    const stream = new TunnelStream(f.stream, this, this.window);
    this.streams.set(f.stream, stream);
    this.opts.onOpen(stream, { host: target.host, port: target.port });
  }

  private tick(): void {
    if (this.closedReason) return;
    if (this.missed >= this.opts.maxMissed) {
      this.close(`no answer to ${this.missed} heartbeats (${this.opts.heartbeatMs} ms apart)`);
      return;
    }
    this.missed++;
    const now = Buffer.allocUnsafe(8);
    now.writeBigUInt64BE(BigInt(Date.now()));
    this.frame(FrameType.PING, 0, now);
    this.opts.onHeartbeat?.();
  }

  /** Drop the tunnel: every open stream fails with a reason that names the peer. */
  close(reason: string, code = 1000): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    clearInterval(this.timer);
    this.out = [];
    const why = `${this.opts.peer} disconnected: ${reason}`;
    for (const o of this.opening.values()) o.reject(new Error(why));
    for (const s of this.streams.values()) s.abort(why);
    this.streams.clear();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      if (code === 1000 || code >= 4000) this.ws.close(code, reason.slice(0, 120));
      else this.ws.terminate();
    }
    this.emit('close', reason);
  }
}
