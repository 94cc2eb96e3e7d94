// Refusals in a flood are counted, not written one by one. Every refusal is a metric; the
// audit log gets a refusal on its own only while it is news: a reason that is not itself a
// flood signal, within a budget per interval. Everything else is summed per source address
// and written once per interval as `auth.refused_summary` ("N refusals from addr in the last
// minute", with reasons and doors), so a flood costs the log one event per address per
// interval instead of one fsync per attempt.

/** Reasons that only happen in a flood: never worth an event each. */
const FLOOD_REASONS = new Set(['rate_limited', 'too_many_handshakes', 'handshake_timeout', 'too_many_logins']);

export interface Refusal {
  /** bare address (no port) */
  source: string;
  frontDoor: string;
  reason: string;
}

export interface RefusalSummary {
  clientAddr: string;
  count: number;
  reasons: Record<string, number>;
  frontDoors: Record<string, number>;
  from: string;
  to: string;
}

export interface RefusalDigestOptions {
  intervalMs: number;
  /** refusals audited one by one per interval before the rest are summed (default 100) */
  individualPerInterval?: number;
  /** addresses summed separately per interval; beyond this they share the summary of `*` (default 10 000) */
  maxSources?: number;
  /** write one summary (the caller audits it) */
  emit(summary: RefusalSummary): void;
}

interface Tally {
  count: number;
  reasons: Record<string, number>;
  frontDoors: Record<string, number>;
  from: number;
  to: number;
}

export class RefusalDigest {
  private tallies = new Map<string, Tally>();
  private individual = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: RefusalDigestOptions) {
    this.timer = setInterval(() => this.flush(), opts.intervalMs);
    this.timer.unref();
  }

  /** Count one refusal; true when the caller should audit it on its own. */
  note(r: Refusal, now = Date.now()): boolean {
    if (!FLOOD_REASONS.has(r.reason) && this.individual < (this.opts.individualPerInterval ?? 100)) {
      this.individual++;
      return true;
    }
    let key = r.source;
    let t = this.tallies.get(key);
    if (!t && this.tallies.size >= (this.opts.maxSources ?? 10_000)) t = this.tallies.get((key = '*'));
    if (!t) this.tallies.set(key, (t = { count: 0, reasons: {}, frontDoors: {}, from: now, to: now }));
    t.count++;
    t.reasons[r.reason] = (t.reasons[r.reason] ?? 0) + 1;
    t.frontDoors[r.frontDoor] = (t.frontDoors[r.frontDoor] ?? 0) + 1;
    t.to = now;
    return false;
  }

  /** Write the summaries of the interval so far and start a new one. */
  flush(): void {
    const tallies = this.tallies;
    this.tallies = new Map();
    this.individual = 0;
    for (const [clientAddr, t] of tallies) {
      this.opts.emit({ clientAddr, count: t.count, reasons: t.reasons, frontDoors: t.frontDoors, from: new Date(t.from).toISOString(), to: new Date(t.to).toISOString() });
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
