// Byte-level reading and writing for the Postgres wire format (big-endian ints,
// NUL-terminated strings). One Writer is reused across messages to avoid churn.

export class Reader {
  offset: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.offset = start;
  }
  remaining(): number {
    return this.end - this.offset;
  }
  private need(n: number): void {
    if (this.offset + n > this.end) throw new ProtocolError('message is shorter than its fields');
  }
  byte(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  cstring(): string {
    const nul = this.buf.indexOf(0, this.offset);
    if (nul < 0 || nul >= this.end) throw new ProtocolError('string is not NUL-terminated');
    const s = this.buf.toString('utf8', this.offset, nul);
    this.offset = nul + 1;
    return s;
  }
  bytes(n: number): Buffer {
    if (n < 0) throw new ProtocolError('negative length');
    this.need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  /**
   * An int16 count of entries that take at least `minBytes` each: a negative count, or one
   * the rest of the message cannot hold, is a protocol error (never an array sized by it).
   */
  count(minBytes: number): number {
    const n = this.int16();
    if (n < 0 || n * minBytes > this.remaining()) throw new ProtocolError(`a count of ${n} does not fit the message`);
    return n;
  }
  rest(): Buffer {
    return this.bytes(this.remaining());
  }
}

export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly code = '08P01',
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export class Writer {
  private buf: Buffer;
  private pos = 0;
  private start = -1;
  constructor(size = 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  /** Begin a message; `type` 0 means an untyped startup-phase message. */
  begin(type: number): this {
    if (type) {
      this.ensure(1);
      this.buf[this.pos++] = type;
    }
    this.start = this.pos;
    this.ensure(4);
    this.pos += 4;
    return this;
  }
  /** Close the message begun last by writing its length. */
  end(): this {
    this.buf.writeInt32BE(this.pos - this.start, this.start);
    this.start = -1;
    return this;
  }
  byte(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }
  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }
  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  cstring(s: string): this {
    const n = Buffer.byteLength(s);
    this.ensure(n + 1);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
    this.buf[this.pos++] = 0;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** Copy out everything written and reset for reuse. */
  flush(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}
