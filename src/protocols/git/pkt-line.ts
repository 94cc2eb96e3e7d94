// Git's pkt-line framing (gitprotocol-common): four hex digits giving the length of the
// line including themselves, then the payload; `0000` flush, `0001` delimiter, `0002`
// response end. One reader over a growing buffer, fed chunks as they arrive; a length that
// is not hex, names 3 or fewer bytes (other than the three specials) or more than a pkt may
// hold is a protocol error: the stream is refused, never guessed at.

export type Pkt = { kind: 'data'; payload: Buffer } | { kind: 'flush' } | { kind: 'delim' } | { kind: 'end' };

export class PktError extends Error {}

/** the largest pkt-line git writes (LARGE_PACKET_MAX) */
export const MAX_PKT = 65520;

export class PktReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** bytes received and not yet read as packets */
  rest(): Buffer {
    const r = this.buf;
    this.buf = Buffer.alloc(0);
    return r;
  }

  get buffered(): number {
    return this.buf.length;
  }

  /** the next whole packet; null when more bytes are needed. Throws PktError on a bad length. */
  next(): Pkt | null {
    if (this.buf.length < 4) return null;
    const head = this.buf.toString('latin1', 0, 4);
    if (!/^[0-9a-f]{4}$/i.test(head)) throw new PktError(`not a pkt-line length: ${JSON.stringify(head)}`);
    const len = parseInt(head, 16);
    if (len < 4) {
      this.buf = this.buf.subarray(4);
      if (len === 0) return { kind: 'flush' };
      if (len === 1) return { kind: 'delim' };
      if (len === 2) return { kind: 'end' };
      throw new PktError('pkt-line length 3 is invalid');
    }
    if (len > MAX_PKT) throw new PktError(`pkt-line length ${len} is over the protocol's ${MAX_PKT}`);
    if (this.buf.length < len) return null;
    const payload = this.buf.subarray(4, len);
    this.buf = this.buf.subarray(len);
    return { kind: 'data', payload };
  }
}

/** A payload as git's reader sees a text line: one trailing newline removed. */
export function pktText(p: Buffer): string {
  const s = p.toString('utf8');
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

export function pktLine(text: string | Buffer): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}

export const FLUSH = Buffer.from('0000');

/** The next packet from a byte queue; throws PktError on a bad length, TruncatedError at the end. */
export async function readPkt(q: import('./byte-queue.ts').ByteQueue): Promise<Pkt> {
  const head = (await q.take(4)).toString('latin1');
  if (!/^[0-9a-f]{4}$/i.test(head)) throw new PktError(`not a pkt-line length: ${JSON.stringify(head)}`);
  const len = parseInt(head, 16);
  if (len === 0) return { kind: 'flush' };
  if (len === 1) return { kind: 'delim' };
  if (len === 2) return { kind: 'end' };
  if (len < 4) throw new PktError(`pkt-line length ${len} is invalid`);
  if (len > MAX_PKT) throw new PktError(`pkt-line length ${len} is over the protocol's ${MAX_PKT}`);
  return { kind: 'data', payload: await q.take(len - 4) };
}
