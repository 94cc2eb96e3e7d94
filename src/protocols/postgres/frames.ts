// Splits a byte stream into Postgres frames: one type byte, an int32 length that
// counts itself, then the payload. Complete frames are handed out as views into the
// received chunk (no copy); only a frame split across chunks is copied, once, when its
// last byte arrives.
import { ProtocolError } from './buffers.ts';

/** Called for each complete frame: the payload is buf[start, end). */
export type FrameVisitor = (type: number, buf: Buffer, start: number, end: number) => void;

/**
 * The judge cannot decide about this frame yet (it waits for something, e.g. table
 * names): the splitter stops before it and holds it and everything after (see `takeHeld`).
 */
export const STALL: unique symbol = Symbol('stall');

/** What a relay does with a frame: undefined forwards it, null drops it, a Buffer replaces it, STALL waits. */
export type FrameFate = Buffer | null | undefined | typeof STALL;
export type FrameJudge = (type: number, buf: Buffer, start: number, end: number) => FrameFate;

export class FrameSplitter {
  /** bytes of a frame not complete yet, in arrival order */
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** after a STALL: the bytes from the stalled frame on, to feed again when the judge can go on */
  private held: Buffer | null = null;

  constructor(private readonly maxFrame: number) {}

  private frameLength(len: number): number {
    if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
    if (len > this.maxFrame) throw new ProtocolError(`message of ${len} bytes exceeds the limit of ${this.maxFrame}`, '54000');
    return 1 + len;
  }

  /**
   * Complete the split frame, if any, with the start of `chunk`. Returns the frame (or
   * null while it is still incomplete) and how many bytes of `chunk` it took.
   */
  private finishSplit(chunk: Buffer): { frame: Buffer | null; used: number } {
    if (this.partsLen === 0) return { frame: null, used: 0 };
    let used = 0;
    if (this.partsLen < 5) {
      used = Math.min(5 - this.partsLen, chunk.length);
      this.keep(chunk.subarray(0, used));
      if (this.partsLen < 5) return { frame: null, used };
    }
    const head = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partsLen);
    this.parts = [head];
    const total = this.frameLength(head.readInt32BE(1));
    const take = Math.min(total - this.partsLen, chunk.length - used);
    this.keep(chunk.subarray(used, used + take));
    used += take;
    if (this.partsLen < total) return { frame: null, used };
    const frame = Buffer.concat(this.parts, this.partsLen);
    this.parts = [];
    this.partsLen = 0;
    return { frame, used };
  }

  private keep(b: Buffer): void {
    if (b.length === 0) return;
    // A copy: the socket may reuse or the caller may keep the chunk.
    this.parts.push(Buffer.from(b));
    this.partsLen += b.length;
  }

  /** Walk the complete frames of chunk[from..]; returns where the incomplete tail starts. */
  /** `each` returns false to stop at that frame; then nothing is kept and -1 comes back. */
  private scan(chunk: Buffer, from: number, each: (type: number, start: number, end: number) => boolean): number {
    let off = from;
    while (chunk.length - off >= 5) {
      const end = off + this.frameLength(chunk.readInt32BE(off + 1));
      if (end > chunk.length) break;
      if (!each(chunk[off]!, off + 5, end)) return -1;
      off = end;
    }
    this.keep(chunk.subarray(off));
    return off;
  }

  /**
   * Feed a chunk; `visit` sees every frame completed by it, in order. Returns the bytes
   * of those complete frames as one buffer (a view of the chunk unless a frame was split),
   * so a relay can forward them and address frames by offset.
   */
  push(chunk: Buffer, visit: FrameVisitor): Buffer {
    const { frame, used } = this.finishSplit(chunk);
    if (frame === null && used === chunk.length) return chunk.subarray(0, 0);
    // Offsets must address one buffer: a split frame is joined with what follows it.
    const data = frame ? Buffer.concat([frame, chunk.subarray(used)]) : chunk;
    const start = frame ? 0 : used;
    const end = this.scan(data, start, (type, s, e) => {
      visit(type, data, s, e);
      return true;
    });
    return data.subarray(start, end);
  }

  /**
   * Feed a chunk and judge each completed frame; returns what to forward, as views of
   * the chunk around the frames `judge` replaced or dropped. Only a split frame is copied,
   * so a large result streams without copying every chunk.
   */
  pushJudged(chunk: Buffer, judge: FrameJudge): Buffer[] {
    const out: Buffer[] = [];
    const { frame, used } = this.finishSplit(chunk);
    if (frame) {
      const fate = judge(frame[0]!, frame, 5, frame.length);
      if (fate === STALL) {
        this.held = used < chunk.length ? Buffer.concat([frame, chunk.subarray(used)]) : frame;
        return out;
      }
      if (fate !== null) out.push(fate ?? frame);
    }
    if (used === chunk.length) return out;
    let runStart = used; // start of frames forwarded as they are
    const end = this.scan(chunk, used, (type, s, e) => {
      const fate = judge(type, chunk, s, e);
      if (fate === undefined) return true;
      if (s - 5 > runStart) out.push(chunk.subarray(runStart, s - 5));
      if (fate === STALL) {
        this.held = chunk.subarray(s - 5);
        return false;
      }
      if (fate !== null) out.push(fate);
      runStart = e;
      return true;
    });
    if (end > runStart) out.push(chunk.subarray(runStart, end));
    return out;
  }

  /** The bytes held by a STALL (once): feed them to pushJudged again when the judge can go on. */
  takeHeld(): Buffer | null {
    const h = this.held;
    this.held = null;
    return h;
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.partsLen;
  }
}
