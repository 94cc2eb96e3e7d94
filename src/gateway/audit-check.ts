// The last verify of the audit chain this gateway ran, kept with when it ran, how long it
// took and how far the chain it walked reached, so the console's Audit page shows it without
// walking the chain again on every visit (a walk reads every event: minutes on a big log).
// A walk from the console is shared by whoever asks while it runs, so pressing the button
// from many pages never stacks walks.
import type { VerifyResult } from '../audit/types.ts';

export interface AuditCheck {
  result: VerifyResult;
  /** when the walk started (events committed after it may not be covered) */
  at: string;
  durationMs: number;
}

export class AuditChecks {
  private last: AuditCheck | null = null;
  private running: Promise<AuditCheck> | null = null;

  constructor(private readonly verify: () => Promise<VerifyResult>) {}

  /** the newest finished walk (null: none since the gateway started) */
  get latest(): AuditCheck | null {
    return this.last;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** A walk of its own, started now (the CLI's `audit verify` must not get an older one); kept as the latest. */
  async run(): Promise<AuditCheck> {
    const at = new Date().toISOString();
    const t0 = performance.now();
    const result = await this.verify();
    const check = { result, at, durationMs: Math.round(performance.now() - t0) };
    // two walks may overlap: the one started later says more
    if (!this.last || check.at >= this.last.at) this.last = check;
    return check;
  }

  /** The walk under way, or a new one. */
  shared(): Promise<AuditCheck> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
