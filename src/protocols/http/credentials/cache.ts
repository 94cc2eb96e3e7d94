// One minted token per connection, shared by every request: fetched once however many requests
// ask at the same moment (single flight), refreshed before it expires, and never cached when
// the fetch failed (the next request tries again; those waiting on the failed fetch all get
// its error). A token in its last stretch is still handed out while a refresh runs behind it,
// so a slow token endpoint does not hold up requests that have a good token to send.

export interface Minted {
  value: string;
  /** when the token stops being valid (ms since the epoch) */
  expiresAt: number;
}

/** Refresh this long before expiry at most (and at a quarter of a short token's life). */
const MARGIN_MS = 60_000;
/** After a background refresh failed, the next one waits this long (the old token still works). */
const RETRY_MS = 5_000;

export class TokenCache {
  private current: (Minted & { refreshAt: number }) | null = null;
  private inflight: Promise<string> | null = null;
  private retryAt = 0;

  constructor(
    private readonly mint: () => Promise<Minted>,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<string> {
    const t = this.now();
    const cur = this.current;
    if (cur && t < cur.refreshAt) return Promise.resolve(cur.value);
    const usable = cur !== null && t < cur.expiresAt;
    if (this.inflight) return usable ? Promise.resolve(cur.value) : this.inflight;
    if (usable && t < this.retryAt) return Promise.resolve(cur.value);
    const flight = this.start();
    if (!usable) return flight;
    // The old token goes out; the refresh's failure is kept from the caller and tried again later.
    flight.catch(() => (this.retryAt = this.now() + RETRY_MS));
    return Promise.resolve(cur.value);
  }

  private start(): Promise<string> {
    const flight = this.mint().then(
      (m) => {
        const obtained = this.now();
        const life = Math.max(0, m.expiresAt - obtained);
        this.current = { ...m, refreshAt: m.expiresAt - Math.min(MARGIN_MS, life / 4) };
        return m.value;
      },
    );
    this.inflight = flight;
    const clear = () => {
      if (this.inflight === flight) this.inflight = null;
    };
    flight.then(clear, clear);
    return flight;
  }
}
