// Reads whole packets from a socket during a handshake (greeting, TLS, authentication),
// where the exchange is request/response and an async API is clearest. Once the handshake
// is done, `detach()` hands any unread bytes to the relay.
import type { Duplex } from 'node:stream';
import { MAX_PACKET_PAYLOAD } from './constants.ts';
import { ProtocolError } from './packets.ts';

export interface RawPacket {
  seq: number;
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
  private readonly onEnd = () => this.fail(new ProtocolError('connection closed during the handshake', 2013));
  private readonly onError = (e: Error) => this.fail(e);

  constructor(
    private socket: Duplex,
    private readonly maxPayload = 64 * 1024,
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

  /** The next packet (handshake packets are small: a large one is refused). */
  async packet(): Promise<RawPacket> {
    await this.fill(4);
    const len = this.buf.readUIntLE(0, 3);
    if (len > this.maxPayload || len === MAX_PACKET_PAYLOAD) throw new ProtocolError(`a handshake packet of ${len} bytes`, 1153);
    await this.fill(4 + len);
    const p = { seq: this.buf[3]!, payload: Buffer.from(this.buf.subarray(4, 4 + len)) };
    this.buf = this.buf.subarray(4 + len);
    return p;
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
