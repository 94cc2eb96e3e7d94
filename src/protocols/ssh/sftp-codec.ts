// SFTP version 3 framing (draft-ietf-secsh-filexfer-02, what OpenSSH speaks): every packet is
// a uint32 length, a type byte and its fields. The framer cuts a byte stream into whole
// packets however it is chunked (a packet split across writes, many in one write) and
// refuses a length past the cap before buffering it; the reader takes fields off one packet
// and throws SftpMalformed when a field runs past its end.

export const FX = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, LSTAT: 7, FSTAT: 8, SETSTAT: 9, FSETSTAT: 10,
  OPENDIR: 11, READDIR: 12, REMOVE: 13, MKDIR: 14, RMDIR: 15, REALPATH: 16, STAT: 17, RENAME: 18, READLINK: 19, SYMLINK: 20,
  STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105, EXTENDED: 200, EXTENDED_REPLY: 201,
} as const;

export const STATUS = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, OP_UNSUPPORTED: 8 } as const;

/** OPEN flags */
export const PFLAG = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 0x10, EXCL: 0x20 } as const;

/**
 * The largest packet let through, either way. OpenSSH's sftp-server refuses packets over
 * 256 KiB; 1 MiB leaves room for other servers while bounding what one channel buffers.
 */
export const MAX_PACKET = 1 << 20;

export class SftpMalformed extends Error {}

export class SftpFramer {
  private parts: Buffer[] = [];
  private have = 0;

  constructor(private readonly max = MAX_PACKET) {}

  /** The whole packets completed by this chunk (each with its 4-byte length). */
  push(chunk: Buffer): Buffer[] {
    this.parts.push(chunk);
    this.have += chunk.length;
    const out: Buffer[] = [];
    while (this.have >= 4) {
      const head = this.parts[0]!.length >= 4 ? this.parts[0]! : this.flatten();
      const len = head.readUInt32BE(0);
      if (len < 1) throw new SftpMalformed('an SFTP packet of length 0');
      if (len > this.max) throw new SftpMalformed(`an SFTP packet of ${len} bytes, over the ${this.max}-byte limit`);
      if (this.have < 4 + len) break;
      const buf = this.parts.length === 1 ? this.parts[0]! : this.flatten();
      out.push(buf.subarray(0, 4 + len));
      const rest = buf.subarray(4 + len);
      this.parts = rest.length ? [rest] : [];
      this.have = rest.length;
    }
    return out;
  }

  private flatten(): Buffer {
    const b = Buffer.concat(this.parts);
    this.parts = [b];
    return b;
  }
}

/** Fields off one packet, after its length. */
export class SftpReader {
  pos = 5;
  readonly type: number;

  constructor(readonly buf: Buffer) {
    this.type = buf[4]!;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new SftpMalformed(`an SFTP packet of type ${this.type} ends inside a field`);
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    // past 2^53 bytes an offset means nothing real; it is kept exact enough to be refused
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** a path or name: a NUL inside is refused (a server reading C strings would stop there) */
  path(): string {
    const b = this.bytes();
    if (b.includes(0)) throw new SftpMalformed('an SFTP path holding a NUL byte');
    return b.toString('utf8');
  }
}

/** A STATUS reply to request `id`. */
export function statusPacket(id: number, code: number, message: string): Buffer {
  const msg = Buffer.from(message);
  const b = Buffer.alloc(4 + 1 + 4 + 4 + 4 + msg.length + 4);
  let p = b.writeUInt32BE(b.length - 4, 0);
  p = b.writeUInt8(FX.STATUS, p);
  p = b.writeUInt32BE(id, p);
  p = b.writeUInt32BE(code, p);
  p = b.writeUInt32BE(msg.length, p);
  p += msg.copy(b, p);
  b.writeUInt32BE(0, p); // language tag: none
  return b;
}

/** A packet of `type` from its fields (for tests and hand-made requests). */
export function packet(type: number, ...fields: (number | bigint | string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([type])];
  for (const f of fields) {
    if (typeof f === 'number') {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f);
      parts.push(b);
    } else if (typeof f === 'bigint') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(f);
      parts.push(b);
    } else {
      const v = typeof f === 'string' ? Buffer.from(f) : f;
      const n = Buffer.alloc(4);
      n.writeUInt32BE(v.length);
      parts.push(n, v);
    }
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}
