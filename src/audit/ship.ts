// Signed heads leave the store: to the data dir's copy and to the configured sinks (a
// directory, best on another volume; an HTTP endpoint), so that whoever can rewrite
// the store, or the whole host, cannot also rewrite every copy. Shipping never holds up
// the data path: appends do not wait for it, each sink has one send in flight at a
// time, and a sink that is behind gets only the newest head (a head vouches for every
// head before it, so nothing is lost by skipping). At most one head per sink per
// `minGapMs`; a failed send is counted, reported and retried with backoff.
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { headLine, type SignedHead } from './head.ts';
import { HEADS_FILE } from './heads-file.ts';

/** A sink as configured (gateway.audit.sinks). */
export type SinkConfig = { dir: string } | { url: string; headers?: Record<string, string> };

/** The outcome of one send, for metrics and logs. */
export interface SinkReport {
  sink: string;
  ok: boolean;
  head: SignedHead;
  error?: Error;
}

interface Sink {
  readonly name: string;
  send(h: SignedHead): Promise<void>;
  close(): Promise<void>;
}

/** Appends heads to `<dir>/audit-heads.jsonl`, fsynced. The directory must exist: a volume that is not mounted is a failure, not a new folder. */
export class DirSink implements Sink {
  private fh: FileHandle | null = null;
  readonly file: string;
  constructor(readonly dir: string, readonly name = `dir:${dir}`) {
    this.file = join(dir, HEADS_FILE);
  }
  async send(h: SignedHead): Promise<void> {
    try {
      this.fh ??= await open(this.file, 'a', 0o600);
      await this.fh.write(headLine(h));
      await this.fh.datasync();
    } catch (e) {
      await this.close();
      throw e;
    }
  }
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => {});
  }
}

/** POSTs each head as JSON; any answer but 2xx is a failure. */
export class HttpSink implements Sink {
  readonly name: string;
  private readonly closed = new AbortController();
  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string> = {},
    private readonly timeoutMs = 10_000,
  ) {
    const u = new URL(url);
    this.name = `http:${u.origin}${u.pathname}`; // never the query or credentials
  }
  async send(h: SignedHead): Promise<void> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers },
      body: headLine(h),
      signal: AbortSignal.any([this.closed.signal, AbortSignal.timeout(this.timeoutMs)]),
    });
    await res.arrayBuffer().catch(() => {});
    if (!res.ok) throw new Error(`${this.name} answered HTTP ${res.status}`);
  }
  /** Abandon a send still waiting for an answer (the process may be exiting). */
  async close(): Promise<void> {
    this.closed.abort();
  }
}

export function makeSink(c: SinkConfig): Sink {
  return 'dir' in c ? new DirSink(c.dir) : new HttpSink(c.url, c.headers);
}

interface Lane {
  sink: Sink;
  pending: SignedHead | null;
  shipped: number;
  inflight: boolean;
  timer: NodeJS.Timeout | null;
  lastAt: number;
  backoffMs: number;
}

const MAX_BACKOFF_MS = 60_000;

export class HeadShipper {
  private readonly lanes: Lane[];
  private closing = false;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(
    sinks: Sink[],
    private readonly opts: { minGapMs: number; onReport?: (r: SinkReport) => void },
  ) {
    this.lanes = sinks.map((sink) => ({ sink, pending: null, shipped: 0, inflight: false, timer: null, lastAt: 0, backoffMs: 0 }));
  }

  offer(h: SignedHead): void {
    if (this.closed) return;
    for (const l of this.lanes) {
      if (h.n <= l.shipped || (l.pending && l.pending.n >= h.n)) continue;
      l.pending = h;
      this.kick(l);
    }
  }

  /** Send what is pending now, wait for it (at most `deadlineMs`), and close the sinks. */
  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    for (const l of this.lanes) {
      if (l.timer) clearTimeout(l.timer);
      l.timer = null;
      this.kick(l);
    }
    let timer: NodeJS.Timeout | undefined;
    const busy = () => this.lanes.some((l) => l.inflight || l.pending);
    if (busy()) {
      await Promise.race([
        new Promise<void>((resolve) => this.idle.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
      ]);
    }
    clearTimeout(timer);
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.sink.close()));
  }

  private kick(l: Lane): void {
    if (this.closed || l.inflight || l.timer || !l.pending) return;
    const wait = this.closing ? 0 : l.lastAt + Math.max(l.backoffMs, this.opts.minGapMs) - Date.now();
    if (wait > 0) {
      l.timer = setTimeout(() => {
        l.timer = null;
        this.kick(l);
      }, wait);
      l.timer.unref();
      return;
    }
    const h = l.pending;
    l.pending = null;
    l.inflight = true;
    l.sink.send(h).then(
      () => {
        l.backoffMs = 0;
        l.shipped = h.n;
        this.opts.onReport?.({ sink: l.sink.name, ok: true, head: h });
      },
      (e: Error) => {
        // Retry the newest head there is, later; on close there is no later.
        if (!l.pending && !this.closing) l.pending = h;
        l.backoffMs = Math.min(Math.max(l.backoffMs * 2, 1000), MAX_BACKOFF_MS);
        this.opts.onReport?.({ sink: l.sink.name, ok: false, head: h, error: e });
      },
    ).finally(() => {
      l.inflight = false;
      l.lastAt = Date.now();
      this.kick(l);
      if (this.idle.length > 0 && !this.lanes.some((x) => x.inflight || x.pending)) {
        for (const w of this.idle.splice(0)) w();
      }
    });
  }
}
