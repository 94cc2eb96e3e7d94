// Usage of requests on connections without a budget: nothing to hold, so nothing to write
// before or after each request. Summed in memory per day, connection and identity and written
// once a second (and when the gateway stops): a store commit per LLM request would cost more
// than the request's own proxying. A crash loses at most the last second's counts; the
// session records still carry each request's usage.
import type { CountedUsage, UsageLedger, Who } from './ledger.ts';
import { utcDay } from './ledger.ts';

export class UsageBatcher {
  private pending = new Map<string, CountedUsage>();
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ledger: UsageLedger,
    intervalMs = 1000,
    private readonly onError: (e: Error) => void = () => {},
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  add(connection: string, who: Who, used: { input: number; output: number }, now = Date.now()): void {
    const day = utcDay(now);
    const key = `${day}\0${connection}\0${who.key}`;
    const row = this.pending.get(key);
    if (row) {
      row.input += used.input;
      row.output += used.output;
      row.requests += 1;
    } else this.pending.set(key, { day, connection, who, input: used.input, output: used.output, requests: 1 });
  }

  /** Write what was summed; one write at a time, in order. */
  flush(): Promise<void> {
    const rows = [...this.pending.values()];
    this.pending = new Map();
    this.writing = this.writing.then(() => this.ledger.count(rows)).catch((e: Error) => this.onError(e));
    return this.writing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
