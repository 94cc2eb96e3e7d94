// Reads whole messages from a socket during a handshake (startup, TLS negotiation,
// authentication), where the exchange is request/response and an async API is clearest.
// Once the handshake is done, `detach()` hands any unread bytes to the relay.
import type { Duplex } from 'node:stream';
import { ProtocolError } from './buffers.ts';

export interface RawMessage {
  /** type byte, or 0 for an untyped startup-phase message */
  type: number;
  /** payload without type and length */
  payload: Buffer;
}

export class HandshakeReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly onData = (d: Buffer) => {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.wake();
  };
  private readonly onEnd = () => this.fail(new ProtocolError('connection closed during the handshake', '08006'));
  private readonly onError = (e: Error) => this.fail(e);

  constructor(
    private socket: Duplex,
    private readonly maxMessage = 1 << 20,
  ) {
    this.attach(socket);
  }

  private attach(s: Duplex): void {
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onEnd);
    s.on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private async fill(n: number): Promise<void> {
    while (this.buf.length < n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Read `n` raw bytes (e.g. the one-byte answer to SSLRequest). */
  async bytes(n: number): Promise<Buffer> {
    await this.fill(n);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Read one message; `typed` false reads a startup-phase message (length first). */
  async message(typed: boolean): Promise<RawMessage> {
    const head = typed ? 5 : 4;
    await this.fill(head);
    const len = this.buf.readInt32BE(typed ? 1 : 0);
    if (len < 4 || len > this.maxMessage) throw new ProtocolError(`invalid message length ${len}`);
    const total = (typed ? 1 : 0) + len;
    await this.fill(total);
    const msg = { type: typed ? this.buf[0]! : 0, payload: this.buf.subarray(head, total) };
    this.buf = this.buf.subarray(total);
    return msg;
  }

  /** Switch to a new underlying stream (after a TLS upgrade); nothing may be pending. */
  replaceSocket(s: Duplex): void {
    if (this.buf.length) throw new ProtocolError('unexpected data before the TLS handshake');
    this.detachListeners();
    this.socket = s;
    this.attach(s);
  }

  private detachListeners(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
  }

  /** Stop reading; returns bytes received but not consumed. */
  detach(): Buffer | null {
    this.detachListeners();
    const rest = this.buf.length ? this.buf : null;
    this.buf = Buffer.alloc(0);
    return rest;
  }
}
