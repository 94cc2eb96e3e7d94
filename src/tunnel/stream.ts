// One multiplexed stream of a tunnel, as a Duplex, with credit-based flow control.
//
// Each side may send at most `window` bytes the peer has not yet granted back. The
// receiver grants bytes back (a WINDOW frame) only once they sit in a Readable buffer
// that is below its high-water mark, i.e. once the consumer is keeping up. So a slow
// consumer stops its own stream's sender (whose write() then returns false and which
// pauses its source socket), while the other streams of the tunnel keep flowing, and the
// memory a stream can hold is bounded by window + highWaterMark on each side.
//
// The WebSocket under all streams has its own limit: while it has more than a bound
// waiting to go out (a slow link, a peer that does not read), no stream sends DATA, so
// write() returns false to every source and the bytes wait in the sources, not in memory
// here, whatever credit the peer granted.

import { Duplex } from 'node:stream';
import { FrameType, MAX_FRAME_PAYLOAD, windowPayload } from './frames.ts';

export const DEFAULT_WINDOW = 256 * 1024;

/** What a stream needs from its tunnel. */
export interface StreamSink {
  /** queue a control frame */
  frame(type: FrameType, stream: number, payload?: Buffer | string): void;
  /** queue a DATA frame (payload ≤ MAX_FRAME_PAYLOAD) */
  data(stream: number, payload: Buffer): void;
  /** the WebSocket has enough waiting to go out: hold DATA until the tunnel calls `resumeSending` */
  saturated(): boolean;
  /** the stream is gone; its id may be dropped */
  forget(stream: number): void;
}

export class TunnelStream extends Duplex {
  /** bytes we may still send before the peer grants more */
  private credit: number;
  /** bytes the peer may still send us; more is a protocol violation */
  private allowance: number;
  /** bytes received and buffered for the reader, not yet granted back */
  private owed = 0;
  /** false while the Readable buffer is above its high-water mark */
  private readerKeepsUp = true;
  private pending: Buffer | null = null;
  private pendingCb: ((e?: Error | null) => void) | null = null;
  /** the peer aborted the stream or the tunnel is gone: send nothing more */
  private silenced = false;

  constructor(
    readonly id: number,
    private readonly sink: StreamSink,
    private readonly window = DEFAULT_WINDOW,
  ) {
    super({ readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024, allowHalfOpen: true });
    this.credit = window;
    this.allowance = window;
    // A dying tunnel fails every stream at once, including ones nobody listens to
    // (still opening, or a one-shot cancel request): that must never crash the process.
    // Consumers that attach their own 'error' listener still get every error.
    this.on('error', () => {});
  }

  /** Credit left to send, for tests and status. */
  get sendCredit(): number {
    return this.credit;
  }

  // -- frames from the peer (called by the tunnel) --

  onData(payload: Buffer): void {
    if (this.destroyed) return;
    if (payload.length > this.allowance) {
      this.destroy(new Error(`the peer sent ${payload.length} bytes with only ${this.allowance} of flow-control window left`));
      return;
    }
    this.allowance -= payload.length;
    this.owed += payload.length;
    this.readerKeepsUp = this.push(payload);
    this.grant();
  }

  onWindow(bytes: number): void {
    if (this.destroyed) return;
    this.credit += bytes;
    this.sendPending();
  }

  /** The peer sends no more (CLOSE). */
  onEnd(): void {
    if (!this.destroyed) this.push(null);
  }

  /** The peer aborted (ERROR) or the tunnel died: fail without telling the peer. */
  abort(reason: string): void {
    this.silenced = true;
    this.destroy(new Error(reason));
  }

  // Grant back in batches of a quarter window: fewer frames, and never a deadlock, since
  // a sender that ran out of credit has left a whole window owed here.
  private grant(): void {
    if (!this.readerKeepsUp || this.owed < this.window / 4 || this.silenced) return;
    this.allowance += this.owed;
    this.sink.frame(FrameType.WINDOW, this.id, windowPayload(this.owed));
    this.owed = 0;
  }

  // -- Duplex implementation --

  override _read(): void {
    this.readerKeepsUp = true;
    this.grant();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.pending = chunk;
    this.pendingCb = cb;
    this.sendPending();
  }

  /** The tunnel's WebSocket drained: send what waited. */
  resumeSending(): void {
    if (this.pending) this.sendPending();
  }

  private sendPending(): void {
    while (this.pending && this.credit > 0 && !this.silenced && !this.sink.saturated()) {
      const n = Math.min(this.credit, this.pending.length, MAX_FRAME_PAYLOAD);
      this.sink.data(this.id, n === this.pending.length ? this.pending : this.pending.subarray(0, n));
      this.credit -= n;
      this.pending = n === this.pending.length ? null : this.pending.subarray(n);
    }
    if (!this.pending && this.pendingCb) {
      const cb = this.pendingCb;
      this.pendingCb = null;
      cb();
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.silenced) this.sink.frame(FrameType.CLOSE, this.id);
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // Both directions ended cleanly: nothing to say. Otherwise the peer must drop its end.
    const clean = !err && this.writableFinished && this.readableEnded;
    if (!clean && !this.silenced) this.sink.frame(FrameType.ERROR, this.id, err?.message ?? 'stream closed');
    this.silenced = true;
    this.pending = null;
    this.pendingCb = null;
    this.sink.forget(this.id);
    cb(err);
  }
}
