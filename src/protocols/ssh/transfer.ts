// One file moved through an SFTP or SCP session, as the record keeps it: its path, the
// direction, the bytes counted and their sha256, never the bytes themselves. The hash is
// only claimed for content that passed at sequential offsets from 0: chunks that arrive a
// little out of order (pipelined requests, a short read re-asked) wait in a bounded buffer
// for the gap to fill; a rewrite of earlier bytes, a start past 0 or a gap that never fills
// makes the hash unknown (null), never wrong. A transfer larger than the cap is stopped.
import { createHash, type Hash } from 'node:crypto';
import type { Session } from '../../session/session.ts';
import type { TransferFacts } from '../../session/types.ts';

/** Bytes of out-of-order chunks held while waiting for the gaps before them: one budget per channel, shared by its files. */
export class ReorderBudget {
  constructor(public left = 8 << 20) {}
}

export class Transfer {
  bytes = 0;
  status: TransferFacts['status'] = 'ok';
  error: string | null = null;
  private readonly hash: Hash = createHash('sha256');
  private next = 0;
  private sequential = true;
  private readonly ahead = new Map<number, Buffer>();
  private aheadBytes = 0;
  private readonly started = Date.now();
  private done = false;

  constructor(
    private readonly session: Session,
    readonly commandId: string,
    readonly path: string,
    readonly direction: TransferFacts['direction'],
    readonly maxBytes: number,
    private readonly budget = new ReorderBudget(0),
  ) {}

  get capped(): boolean {
    return this.status === 'capped';
  }

  /** Would these bytes at this offset go past the cap? */
  exceeds(offset: number, length: number): boolean {
    return offset + length > this.maxBytes || this.bytes + length > this.maxBytes;
  }

  /** Count (and hash) bytes that pass at this offset. */
  add(offset: number, data: Buffer): void {
    this.bytes += data.length;
    if (!this.sequential || data.length === 0) return;
    if (offset === this.next) {
      this.take(data);
      // the chunks that waited for this one
      for (let c = this.ahead.get(this.next); c; c = this.ahead.get(this.next)) {
        this.ahead.delete(this.next);
        this.aheadBytes -= c.length;
        this.budget.left += c.length;
        this.take(c);
      }
    } else if (offset > this.next && !this.ahead.has(offset) && data.length <= this.budget.left) {
      this.ahead.set(offset, Buffer.from(data));
      this.aheadBytes += data.length;
      this.budget.left -= data.length;
    } else this.unknown();
  }

  private take(data: Buffer): void {
    this.hash.update(data);
    this.next += data.length;
  }

  private unknown(): void {
    this.sequential = false;
    this.release();
  }

  private release(): void {
    this.ahead.clear();
    this.budget.left += this.aheadBytes;
    this.aheadBytes = 0;
  }

  cap(): void {
    if (this.status === 'ok') {
      this.status = 'capped';
      this.error = `the transfer went past the size cap of ${this.maxBytes} bytes (fileTransfers.maxBytes of the connection): stopped`;
    }
  }

  fail(message: string): void {
    if (this.status === 'ok') {
      this.status = 'failed';
      this.error = message;
    }
  }

  get facts(): TransferFacts {
    const whole = this.sequential && this.ahead.size === 0;
    return { path: this.path, direction: this.direction, bytes: this.bytes, sha256: whole ? this.hash.copy().digest('hex') : null, status: this.status };
  }

  /** Record the transfer as the result of its command (once). */
  finish(status?: 'incomplete'): void {
    if (this.done) return;
    this.done = true;
    if (status && this.status === 'ok') {
      this.status = status;
      this.error = 'the session ended before the file was closed';
    }
    const f = this.facts;
    this.release();
    this.session.result(this.commandId, {
      columns: [{ name: 'path' }, { name: 'direction' }, { name: 'bytes' }, { name: 'sha256' }, { name: 'status' }],
      rows: [[f.path, f.direction, String(f.bytes), f.sha256, f.status]],
      rowCount: 1,
      tag: `${f.direction} ${f.bytes} bytes${f.status === 'ok' ? '' : ` (${f.status})`}`,
      ...(this.error ? { error: { message: this.error } } : {}),
      durationMs: Date.now() - this.started,
      transfer: f,
    });
  }
}
