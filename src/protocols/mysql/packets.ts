// MySQL packet framing: a 3-byte little-endian payload length, a 1-byte sequence id, the
// payload. A payload of 16 MiB - 1 bytes continues in the next packet (a "large packet"),
// until one shorter than that, possibly empty. The splitter hands out each whole payload
// (a view of the chunk when it arrived in one piece; large ones copied together once),
// bounded by a maximum, and the raw bytes it came in, so a relay forwards them untouched.
import { MAX_PACKET_PAYLOAD } from './constants.ts';

export class ProtocolError extends Error {
  constructor(
    message: string,
    /** the MySQL error code the client gets */
    readonly code = 1043,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** One logical packet: its payload is buf[start, end). */
export interface Packet {
  seq: number;
  buf: Buffer;
  start: number;
  end: number;
  /** sequence id of the last physical packet (a large packet spans several) */
  lastSeq: number;
  /** a large packet's physical packets as they came (null: buf[start - 4, end) is the packet) */
  large: Buffer | null;
}

/** The bytes a packet arrived as (headers included): what to forward when nothing changes. */
export function packetBytes(p: Packet): Buffer {
  return p.large ?? p.buf.subarray(p.start - 4, p.end);
}

/** What a relay does with a packet: undefined forwards it, null drops it, a Buffer (whole packets) replaces it. */
export type PacketFate = Buffer | null | undefined;

/** The client is told what it ran into: the gateway's limit, not a size alone. */
function tooLarge(max: number): ProtocolError {
  return new ProtocolError(`a packet larger than ${max} bytes, the gateway's limit (maxMessageBytes)`, 1153);
}

export class PacketSplitter {
  /** bytes of a physical packet not complete yet */
  private partial: Buffer | null = null;
  /** the physical packets of a large packet so far */
  private large: Buffer[] = [];
  private largeBytes = 0;

  /** handed to `visit` again and again when the visitor keeps no packet (`reuse`) */
  private readonly scratch: Packet | null;

  constructor(
    private readonly maxPayload: number,
    opts: { reuse?: boolean } = {},
  ) {
    this.scratch = opts.reuse ? { seq: 0, buf: Buffer.alloc(0), start: 0, end: 0, lastSeq: 0, large: null } : null;
  }

  private packet(seq: number, buf: Buffer, start: number, end: number, lastSeq: number, large: Buffer | null): Packet {
    const p = this.scratch;
    if (!p) return { seq, buf, start, end, lastSeq, large };
    p.seq = seq;
    p.buf = buf;
    p.start = start;
    p.end = end;
    p.lastSeq = lastSeq;
    p.large = large;
    return p;
  }

  /** Bytes held for a packet not complete yet. */
  get buffered(): number {
    return (this.partial?.length ?? 0) + this.largeBytes;
  }

  /**
   * Feed a chunk; `visit` sees each completed logical packet in order and returns its fate.
   * Returns what to forward: views of the chunk around the packets replaced or dropped.
   */
  push(chunk: Buffer, visit: (p: Packet) => PacketFate): Buffer[] {
    const out: Buffer[] = [];
    let data = chunk;
    if (this.partial) {
      data = Buffer.concat([this.partial, chunk]);
      this.partial = null;
    }
    let off = 0;
    let runStart = 0; // start of packets forwarded as they are
    const n = data.length;
    while (n - off >= 4) {
      const len = data[off]! | (data[off + 1]! << 8) | (data[off + 2]! << 16);
      const end = off + 4 + len;
      if (end > n) break;
      const seq = data[off + 3]!;
      if (len === MAX_PACKET_PAYLOAD || this.large.length) {
        // part of a large packet: kept until its last part arrives
        if (this.largeBytes + len > this.maxPayload) throw tooLarge(this.maxPayload);
        if (off > runStart) out.push(data.subarray(runStart, off));
        this.large.push(Buffer.from(data.subarray(off, end)));
        this.largeBytes += len;
        off = end;
        runStart = off;
        if (len === MAX_PACKET_PAYLOAD) continue;
        const parts = this.large;
        this.large = [];
        const total = this.largeBytes;
        this.largeBytes = 0;
        const payload = Buffer.allocUnsafe(total);
        let w = 0;
        for (const p of parts) w += p.copy(payload, w, 4);
        const raw = Buffer.concat(parts);
        const fate = visit(this.packet(parts[0]![3]!, payload, 0, total, seq, raw));
        if (fate === undefined) out.push(raw);
        else if (fate !== null) out.push(fate);
        continue;
      }
      if (len > this.maxPayload) throw tooLarge(this.maxPayload);
      const fate = visit(this.packet(seq, data, off + 4, end, seq, null));
      if (fate !== undefined) {
        if (off > runStart) out.push(data.subarray(runStart, off));
        if (fate !== null) out.push(fate);
        runStart = end;
      }
      off = end;
    }
    if (off > runStart) out.push(data.subarray(runStart, off));
    if (off < n) {
      const rest = data.subarray(off);
      const head = rest.length >= 3 ? rest[0]! | (rest[1]! << 8) | (rest[2]! << 16) : 0;
      if (head > this.maxPayload && head !== MAX_PACKET_PAYLOAD) throw tooLarge(this.maxPayload);
      this.partial = Buffer.from(rest);
    }
    return out;
  }
}

/** Frame a payload as packets starting at sequence id `seq` (split at 16 MiB). */
export function framePacket(payload: Buffer, seq: number): Buffer {
  if (payload.length < MAX_PACKET_PAYLOAD) {
    const out = Buffer.allocUnsafe(4 + payload.length);
    out.writeUIntLE(payload.length, 0, 3);
    out[3] = seq & 0xff;
    payload.copy(out, 4);
    return out;
  }
  const parts: Buffer[] = [];
  let off = 0;
  let s = seq;
  for (;;) {
    const len = Math.min(MAX_PACKET_PAYLOAD, payload.length - off);
    const h = Buffer.allocUnsafe(4);
    h.writeUIntLE(len, 0, 3);
    h[3] = s++ & 0xff;
    parts.push(h, payload.subarray(off, off + len));
    off += len;
    if (len < MAX_PACKET_PAYLOAD) break;
  }
  return Buffer.concat(parts);
}

/** How many sequence ids a payload of this length takes when framed. */
export function packetCount(length: number): number {
  return Math.floor(length / MAX_PACKET_PAYLOAD) + 1;
}

// ---- reading and writing fields ------------------------------------------------------------

/** Reads the fields of one payload; throws ProtocolError when the payload is too short. */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }
  private need(n: number): void {
    if (this.pos + n > this.end) throw new ProtocolError('a packet is shorter than its fields');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  /** A length-encoded integer; null for 0xFB (NULL in a row). */
  lenenc(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      const v = this.u64();
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('a length beyond what a packet can hold');
      return Number(v);
    }
    throw new ProtocolError('an invalid length-encoded integer');
  }
  /** A length-encoded string's bytes as [start, end) in `buf`; null for NULL. */
  lenencRange(): [number, number] | null {
    const n = this.lenenc();
    if (n === null) return null;
    this.need(n);
    const s = this.pos;
    this.pos += n;
    return [s, s + n];
  }
  lenencString(): string {
    const r = this.lenencRange();
    return r === null ? '' : this.buf.toString('utf8', r[0], r[1]);
  }
  /** A NUL-terminated string (to the end of the payload when there is no NUL, as servers send the plugin name). */
  cstring(): string {
    const nul = this.buf.indexOf(0, this.pos);
    const stop = nul < 0 || nul >= this.end ? this.end : nul;
    const s = this.buf.toString('utf8', this.pos, stop);
    this.pos = stop < this.end ? stop + 1 : stop;
    return s;
  }
  rest(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }
}

/** Builds one payload. */
export class Writer {
  private parts: Buffer[] = [];
  private length = 0;

  private add(b: Buffer): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }
  u8(v: number): this {
    return this.add(Buffer.from([v & 0xff]));
  }
  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16LE(v);
    return this.add(b);
  }
  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0);
    return this.add(b);
  }
  bytes(b: Buffer): this {
    return this.add(b);
  }
  zeros(n: number): this {
    return this.add(Buffer.alloc(n));
  }
  cstring(s: string): this {
    return this.add(Buffer.from(`${s}\0`, 'utf8'));
  }
  lenenc(n: number): this {
    return this.add(lenencInt(n));
  }
  lenencBytes(b: Buffer): this {
    return this.add(lenencInt(b.length)).add(b);
  }
  lenencString(s: string): this {
    return this.lenencBytes(Buffer.from(s, 'utf8'));
  }
  build(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
  }
}

export function lenencInt(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([0xfc, n & 0xff, n >> 8]);
  if (n < 0x1000000) return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

/** Bytes a length-encoded integer of `n` takes. */
export function lenencSize(n: number): number {
  return n < 0xfb ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9;
}

/** Write a length-encoded integer at `at`; returns the position after it. */
export function writeLenenc(buf: Buffer, at: number, n: number): number {
  if (n < 0xfb) {
    buf[at] = n;
    return at + 1;
  }
  if (n < 0x10000) {
    buf[at] = 0xfc;
    buf.writeUInt16LE(n, at + 1);
    return at + 3;
  }
  if (n < 0x1000000) {
    buf[at] = 0xfd;
    buf.writeUIntLE(n, at + 1, 3);
    return at + 4;
  }
  buf[at] = 0xfe;
  buf.writeBigUInt64LE(BigInt(n), at + 1);
  return at + 9;
}
