// A reader over a stream of chunks that can take exact counts, hand back what is buffered,
// and put back what a consumer did not use (the rest of a chunk after a zlib stream ended).

export class TruncatedError extends Error {}

export class ByteQueue {
  private chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  /** bytes handed out so far (the position in the stream) */
  offset = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.source.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    if (r.value.length) {
      this.chunks.push(r.value);
      this.size += r.value.length;
    }
    return true;
  }

  /** whether the stream has no more bytes */
  async atEnd(): Promise<boolean> {
    while (this.size === 0) if (!(await this.pull())) return true;
    return false;
  }

  async take(n: number): Promise<Buffer> {
    while (this.size < n) if (!(await this.pull())) throw new TruncatedError(`the stream ended ${n - this.size} bytes short`);
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    this.offset += n;
    return out;
  }

  /** whatever is buffered (pulling one chunk when nothing is); throws at the end of the stream */
  async some(): Promise<Buffer> {
    while (this.size === 0) if (!(await this.pull())) throw new TruncatedError('the stream ended inside an object');
    return this.take(this.size);
  }

  /** puts back the unused tail of what `some` or `take` handed out */
  unshift(b: Buffer): void {
    if (!b.length) return;
    this.chunks.unshift(b);
    this.size += b.length;
    this.offset -= b.length;
  }
}
