// Splits a byte stream into Postgres frames: one type byte, an int32 length that
// counts itself, then the payload. Complete frames are handed out as views into the
// received chunk (no copy); only a frame split across chunks is copied once.
import { ProtocolError } from './buffers.ts';

/** Called for each complete frame: the payload is buf[start, end). */
export type FrameVisitor = (type: number, buf: Buffer, start: number, end: number) => void;

export class FrameSplitter {
  private pending: Buffer | null = null;
  constructor(private readonly maxFrame: number) {}

  /**
   * Feed a chunk; `visit` sees every frame completed by it, in order. Returns the
   * bytes of those complete frames (a view), so a relay can forward them untouched.
   */
  push(chunk: Buffer, visit: FrameVisitor): Buffer {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (data.length - off >= 5) {
      const len = data.readInt32BE(off + 1);
      if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
      if (len > this.maxFrame) throw new ProtocolError(`message of ${len} bytes exceeds the limit of ${this.maxFrame}`, '54000');
      const end = off + 1 + len;
      if (end > data.length) break;
      visit(data[off]!, data, off + 5, end);
      off = end;
    }
    this.pending = off < data.length ? data.subarray(off) : null;
    return off === data.length ? data : data.subarray(0, off);
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  /** Take what is buffered (used when the stream changes framing, e.g. after TLS). */
  takePending(): Buffer | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }
}
