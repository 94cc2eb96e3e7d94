// Reconnect delays: exponential with "equal jitter" (half fixed, half random), so a
// fleet of agents cut off by one gateway restart does not come back in lockstep.
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions = { baseMs: 500, maxMs: 30_000 },
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call doubles the ceiling up to maxMs. */
  next(): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** this.attempt);
    if (ceiling < this.opts.maxMs) this.attempt++;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  /** After a connection that worked: start again from the base delay. */
  reset(): void {
    this.attempt = 0;
  }
}
