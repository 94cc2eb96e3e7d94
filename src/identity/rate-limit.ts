// Failed-authentication limits: a sliding window per key (a source address, an account
// name). Only failures are counted; once a key has `max` failures within the window it is
// refused without checking its credential, until the oldest failure slides out.
//
// Memory is bounded twice: a key keeps at most `max` timestamps (older ones cannot change
// the answer), and the number of keys is capped, oldest first, so a spray of source
// addresses cannot grow the map without limit.

export interface FailureLimiterOptions {
  windowMs: number;
  max: number;
  /** most keys remembered; default 100 000 */
  maxKeys?: number;
}

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly maxKeys: number;

  constructor(private readonly opts: FailureLimiterOptions) {
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  /** True when `key` has used up its failures for the current window. */
  limited(key: string, now = Date.now()): boolean {
    const list = this.failures.get(key);
    if (!list) return false;
    this.prune(key, list, now);
    return list.length >= this.opts.max;
  }

  /** Count one failure for `key`. */
  fail(key: string, now = Date.now()): void {
    let list = this.failures.get(key);
    if (!list) {
      if (this.failures.size >= this.maxKeys) {
        const oldest = this.failures.keys().next().value;
        if (oldest !== undefined) this.failures.delete(oldest);
      }
      this.failures.set(key, (list = []));
    }
    this.prune(key, list, now);
    if (list.length === 0) this.failures.set(key, list); // prune forgot an emptied key
    list.push(now);
    if (list.length > this.opts.max) list.shift();
  }

  /**
   * Take back one failure counted at `at` (an attempt charged before it ran, that succeeded).
   * Counting first means attempts running at the same time see each other.
   */
  refund(key: string, at: number): void {
    const list = this.failures.get(key);
    const i = list ? list.lastIndexOf(at) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.failures.delete(key);
  }

  private prune(key: string, list: number[], now: number): void {
    const since = now - this.opts.windowMs;
    let drop = 0;
    while (drop < list.length && list[drop]! <= since) drop++;
    if (drop) list.splice(0, drop);
    if (list.length === 0) this.failures.delete(key);
  }
}
