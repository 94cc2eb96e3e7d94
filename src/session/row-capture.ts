// Keeps the first rows of a result for the record, within a row and byte budget, and
// counts the rest. One per running command; values arrive already masked.
export interface CaptureLimits {
  maxRows: number;
  maxBytes: number;
}

export class RowCapture {
  rows: (string | null)[][] = [];
  /** original values of masked rows, by row index (only with keepOriginals) */
  originals: Record<number, (string | null)[]> | null = null;
  rowCount = 0;
  truncated = false;
  private bytes = 0;

  constructor(private readonly limits: CaptureLimits) {}

  /** True while rows are still being kept (lets the engine skip decoding the rest). */
  get capturing(): boolean {
    return !this.truncated && this.rows.length < this.limits.maxRows;
  }

  /** Count a row without keeping it. */
  skip(): void {
    this.rowCount++;
    if (!this.truncated) this.truncated = true;
  }

  /** Keep a row; `original` is its unmasked form when it was masked and originals are kept. */
  add(values: (string | null)[], size: number, original?: (string | null)[]): void {
    this.rowCount++;
    if (this.truncated) return;
    if (this.rows.length >= this.limits.maxRows || this.bytes + size > this.limits.maxBytes) {
      this.truncated = true;
      return;
    }
    this.bytes += size;
    if (original) (this.originals ??= {})[this.rows.length] = original;
    this.rows.push(values);
  }
}
