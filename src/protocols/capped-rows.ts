// The rows an in-process client keeps of a result: the first ones within the row and byte
// caps, while every row is counted. Memory stays bounded however large the result.
import type { QueryCaps } from './engine.ts';

export class CappedRows {
  readonly rows: (string | null)[][] = [];
  /** rows the result had, kept or not */
  seen = 0;
  truncated = false;
  private bytes = 0;

  constructor(private readonly caps: QueryCaps) {}

  add(row: (string | null)[]): void {
    this.seen++;
    if (this.truncated || this.rows.length >= this.caps.maxRows) return void (this.truncated = true);
    const size = row.reduce((n, v) => n + (v === null ? 4 : Buffer.byteLength(v)), 0);
    if (this.bytes + size > this.caps.maxBytes) return void (this.truncated = true);
    this.bytes += size;
    this.rows.push(row);
  }
}
