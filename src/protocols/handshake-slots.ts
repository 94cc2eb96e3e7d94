// Logins at a wire door (gateway.handshake): until a caller is admitted it holds one of
// `maxPending` slots and runs against an absolute deadline, not an idle timer (which a
// client trickling a byte now and then would reset). So a flood of connections that say
// nothing, or stall in TLS or in their login, cannot pile up. Every door takes its slots
// here, so the limit is the same code on each.

export interface HandshakeLimits {
  timeoutMs: number;
  maxPending: number;
}

export interface HandshakeSlot {
  /** admitted or gone: the slot is free and the deadline stopped (a second call does nothing) */
  release(): void;
}

export class HandshakeSlots {
  private taken = 0;

  constructor(private readonly limits: HandshakeLimits) {}

  /** connections holding a slot now */
  get pending(): number {
    return this.taken;
  }

  /** A slot whose deadline frees it and then calls `expired`; null when all are taken (refuse the connection). */
  take(expired: () => void): HandshakeSlot | null {
    if (this.taken >= this.limits.maxPending) return null;
    this.taken++;
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      this.taken--;
      clearTimeout(deadline);
    };
    const deadline = setTimeout(() => {
      release();
      expired();
    }, this.limits.timeoutMs);
    deadline.unref();
    return { release };
  }
}
