// A pair of connected byte streams inside the process: what an in-process client (MCP tools,
// `warden exec`) and an engine's relay talk over instead of a loopback socket. Each side
// keeps the other's backpressure: a write is acknowledged only when the reader has room.
// The client end answers the socket calls drivers make (connect, setNoDelay, setKeepAlive).
import { Duplex } from 'node:stream';

class PipeEnd extends Duplex {
  peer!: PipeEnd;
  /** the write waiting for the peer's reader to want more */
  private waiting: (() => void) | null = null;

  override _read(): void {
    const w = this.peer.waiting;
    this.peer.waiting = null;
    w?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.peer.destroyed) return cb(new Error('the other end of the pipe is closed'));
    if (this.peer.push(chunk)) cb();
    else this.waiting = () => cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
    if (!this.peer.destroyed) this.peer.destroy();
    cb(err);
  }

  // what pg and mysql2 call on a socket
  connect(): this {
    process.nextTick(() => this.emit('connect'));
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** [client end, server end] */
export function inProcessPipe(): [PipeEnd, PipeEnd] {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
