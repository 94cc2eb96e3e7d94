// The audit log with group commit. Appends queue up; while one transaction is being
// committed the next batch gathers, and goes out as one transaction (one fsync for many
// sessions) as soon as the writer is free. Ordering: batches commit in queue order, so
// seq order within a process is append order.
import type { Store } from '../store/open.ts';
import { canonicalJson } from './canonical.ts';
import type { BatchItem, BatchWritten } from './chain.ts';
import type { SignedHead } from './head.ts';
import type { HeadShipper } from './ship.ts';
import type { AuditEvent, AuditEventInput, AuditLog, VerifyResult } from './types.ts';
import { verifyAudit, type VerifyOptions } from './verify.ts';
import type { ChainWriter } from './writer.ts';

export interface GroupCommitOptions {
  dataDir: string;
  /** sign a head when no durable one was signed for this long (ms) */
  headIntervalMs: number;
  /** the writer signs a batch only this long after the last head; the tail left unsigned is signed this long after its first commit (ms; 0: every batch is signed) */
  signEveryMs?: number;
  /** what verify() holds the chain to (pinned key, sink files, staleness) */
  verify: VerifyOptions;
  /** a beat that failed (the writer found tampering, the store is down) */
  onError: (e: Error) => void;
  /** most events in one transaction (default 2000) */
  maxBatch?: number;
  /** how long a non-durable event may wait for a batch to start (default 20 ms) */
  lazyMs?: number;
  /** how long close() waits for the sinks to take the close head (default 3 s) */
  shipDeadlineMs?: number;
  /** longest a durable batch waits for the sessions of the last one to come back (ms; default 2, 0: never) */
  gatherMs?: number;
}

interface Pending {
  input: AuditEventInput;
  item: BatchItem;
  durable: boolean;
  /** null for a posted event: nobody waits for it */
  resolve: ((e: AuditEvent) => void) | null;
  reject: (e: Error) => void;
  /** persist(): the waiter needs the event on disk, not its place in the chain (the journal will do) */
  persisted?: () => void;
}

/**
 * The log over an open writer (see open.ts). Besides batching appends it keeps the
 * chain's signed heads fresh: a head goes with a batch at most every signEveryMs (the
 * tail left unsigned is signed by a timer), and when no durable one was signed for headIntervalMs (an idle gateway, or only async records) it signs a
 * beat, so a tail cut off the store shows as a stale head. Heads of durable commits go
 * to the shipper; a non-durable one could outlive its commit in a crash.
 */
export class GroupCommitLog implements AuditLog {
  private queue: Pending[] = [];
  private durableQueued = false;
  private inflight = false;
  private urgent = false; // flush() or close() asked: do not wait for lazyMs
  private closed = false;
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private drained: (() => void)[] = [];
  commits = 0;
  private readonly maxBatch: number;
  private readonly lazyMs: number;
  lastHead: SignedHead | null = null;
  private lastDurableAt = Date.now();
  private beatWanted = false;
  private beatTimer: NodeJS.Timeout | null = null;
  /** a batch went in unsigned and no head covers it yet; the timer that signs it */
  private tailUnsigned = false;
  private tailTimer: NodeJS.Timeout | null = null;
  // Gathering (see gathered()): the sessions of the last durable batch, how many of them
  // have a durable event queued now, and how long that batch's commit took.
  private lastSessions = new Set<string>();
  private queuedSessions = new Set<string>();
  private comeBack = 0;
  private anonymousDurable = false;
  private lastCommitMs = 0;
  private gatherTimer: NodeJS.Timeout | null = null;
  private gatherExpired = false;
  private readonly gatherMs: number;
  /** the writer journaled events that no transaction has indexed yet (an index write is due within lazyMs) */
  private journalUnindexed = false;
  private journalSince = 0;
  private journalInflight = false;
  /** the last index write failed: flush() does not wait for it, and it is tried again within lazyMs */
  private indexFailing = false;
  /** indexed() callers: answered once nothing journaled is unindexed (or an index write failed) */
  private indexWaiters: (() => void)[] = [];
  /** the writer said it may not journal (another gateway owns the data dir's journal): durable events commit */
  private journalRefused = false;
  private readonly flushSources: (() => Promise<void>)[] = [];

  constructor(
    private readonly store: Store,
    private readonly writer: ChainWriter,
    private readonly shipper: HeadShipper,
    private readonly opts: GroupCommitOptions,
    opened: SignedHead | null,
  ) {
    this.maxBatch = opts.maxBatch ?? 2000;
    this.lazyMs = opts.lazyMs ?? 20;
    this.gatherMs = opts.gatherMs ?? 2;
    if (opened) this.signed(opened, true);
    this.scheduleBeat();
  }

  get queued(): number {
    return this.queue.length;
  }

  append(e: AuditEventInput, opts?: { durable?: boolean }): Promise<AuditEvent> {
    const durable = opts?.durable !== false;
    return this.promiseFor(e, (item, resolve, reject) => this.enqueue({ input: e, item, durable, resolve, reject }));
  }

  persist(e: AuditEventInput): Promise<void> {
    if (!this.writer.journal || this.journalRefused) return this.append(e, { durable: true }).then(() => undefined);
    return this.promiseFor<void>(e, (item, resolve, reject) => this.enqueue({ input: e, item, durable: true, resolve: null, reject, persisted: resolve }));
  }

  /** The promise of an event to queue: a closed log or a bad event fails its own caller, never a batch. */
  private promiseFor<T>(e: AuditEventInput, queue: (item: BatchItem, resolve: (v: T) => void, reject: (err: Error) => void) => void): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the audit log is closed'));
    let item: BatchItem;
    try {
      item = encodeItem(e);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => queue(item, resolve, reject));
  }

  /** post() of an event another thread encoded (encodeItem: a data-plane worker's session). */
  postEncoded(item: BatchItem, onError: (e: Error) => void): void {
    if (this.closed) return onError(new Error('the audit log is closed'));
    this.enqueue({ input: encodedInput(item), item, durable: false, resolve: null, reject: onError });
  }

  /** persist() of an event another thread encoded. */
  persistEncoded(item: BatchItem): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the audit log is closed'));
    return new Promise<void>((resolve, reject) => {
      const input = encodedInput(item);
      if (!this.writer.journal || this.journalRefused) this.enqueue({ input, item, durable: true, resolve: () => resolve(), reject });
      else this.enqueue({ input, item, durable: true, resolve: null, reject, persisted: resolve });
    });
  }

  indexed(): Promise<void> {
    if (!this.journalUnindexed && !this.journalInflight) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.indexWaiters.push(resolve);
      this.startSoon();
    });
  }

  post(e: AuditEventInput, onError: (e: Error) => void): void {
    if (this.closed) return onError(new Error('the audit log is closed'));
    const item = encodeOrReport(e, onError);
    if (item) this.enqueue({ input: e, item, durable: false, resolve: null, reject: onError });
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    if (p.durable) {
      this.durableQueued = true;
      const id = p.item.sessionId;
      if (id === null) this.anonymousDurable = true;
      else if (!this.queuedSessions.has(id)) {
        this.queuedSessions.add(id);
        if (this.lastSessions.has(id)) this.comeBack++;
      }
      if (this.gatherTimer && this.gathered()) {
        clearTimeout(this.gatherTimer);
        this.gatherTimer = null;
      }
      this.startSoon();
    } else {
      this.startLater();
    }
  }

  /** Another thread appends here (a data-plane worker's sessions): flush() first has it hand over what it holds. */
  addFlushSource(handOver: () => Promise<void>): void {
    this.flushSources.push(handOver);
  }

  flush(): Promise<void> {
    if (this.flushSources.length > 0) return Promise.all(this.flushSources.map((f) => f())).then(() => this.flushOwn());
    return this.flushOwn();
  }

  private flushOwn(): Promise<void> {
    if (!this.inflight && this.queue.length === 0 && !this.journalUnindexed) return Promise.resolve();
    this.urgent = true;
    this.startSoon();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** Verify the store's chain, holding it also to the last head this writer signed (which no store writer can reach). */
  verify(): Promise<VerifyResult> {
    const known = this.lastHead ? [{ where: 'this gateway (the last head it signed)', head: this.lastHead }] : [];
    return verifyAudit(this.store, this.opts.dataDir, { ...this.opts.verify, knownHeads: [...known, ...(this.opts.verify.knownHeads ?? [])] });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.beatTimer) clearTimeout(this.beatTimer);
    this.beatTimer = null;
    if (this.tailTimer) clearTimeout(this.tailTimer);
    this.tailTimer = null;
    this.beatWanted = false;
    await this.flush();
    try {
      const h = await this.writer.sign('close');
      if (h) this.signed(h, true);
    } finally {
      try {
        await this.shipper.close(this.opts.shipDeadlineMs ?? 3000);
      } finally {
        await this.writer.close();
      }
    }
  }

  private signed(h: SignedHead, durable: boolean): void {
    this.lastHead = h;
    this.tailUnsigned = false;
    if (!durable) return;
    this.lastDurableAt = Date.now();
    this.shipper.offer(h);
  }

  // Armed by the first unsigned batch after a head: if no later batch was signed by
  // then, a beat signs the tail, so every event is signed within signEvery of its commit.
  private unsignedBatch(): void {
    this.tailUnsigned = true;
    if (this.tailTimer || this.closed) return;
    this.tailTimer = setTimeout(() => {
      this.tailTimer = null;
      if (!this.tailUnsigned || this.closed) return;
      this.beatWanted = true;
      this.startSoon();
    }, this.opts.signEveryMs ?? 0);
    this.tailTimer.unref();
  }

  // One timer, re-armed only when it fires: a batch just moves lastDurableAt.
  private scheduleBeat(): void {
    if (this.closed) return;
    const due = this.lastDurableAt + this.opts.headIntervalMs - Date.now();
    this.beatTimer = setTimeout(() => {
      this.beatTimer = null;
      if (Date.now() - this.lastDurableAt >= this.opts.headIntervalMs) {
        this.beatWanted = true;
        this.startSoon();
      } else {
        this.scheduleBeat();
      }
    }, Math.max(due, 0));
    this.beatTimer.unref();
  }

  private beat(): void {
    this.beatWanted = false;
    this.inflight = true;
    this.writer.sign('beat').then(
      (h) => {
        if (h) this.signed(h, true);
        else this.lastDurableAt = Date.now(); // an empty chain: nothing to sign yet
      },
      (err: Error) => {
        this.lastDurableAt = Date.now(); // try again in an interval, not in a loop
        this.opts.onError(err);
      },
    ).finally(() => {
      this.next();
      this.scheduleBeat();
    });
  }

  // setImmediate, not now: appends arriving in the same turn of the event loop (many
  // sockets readable at once) join the batch instead of each paying for a commit.
  private startSoon(): void {
    if (this.inflight || this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.run();
    });
  }

  private startLater(): void {
    if (this.inflight || this.immediate || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, this.lazyMs);
  }

  /**
   * May the durable batch start? A commit costs one fsync, whatever it holds, so it
   * should hold every command that will be waiting soon: when the last batch's
   * sessions are busy at their targets (their commands were let through by it), their
   * next commands are due about a round trip later. So a batch waits until each session
   * of the last one has a durable event queued again, at most gatherMs and no longer
   * than that commit took. One client: its own command is all it waits for (no delay);
   * a session that went quiet costs one wait, then it is no longer in the last batch.
   */
  private gathered(): boolean {
    return this.comeBack >= this.lastSessions.size || this.anonymousDurable || this.urgent || this.gatherExpired || this.gatherMs <= 0;
  }

  private run(): void {
    if (this.inflight) return;
    if (this.beatWanted) return this.beat();
    if (this.queue.length === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (this.journalUnindexed) this.write([], false);
      return;
    }
    if (this.durableQueued && !this.gathered()) {
      if (!this.gatherTimer) {
        this.gatherTimer = setTimeout(() => {
          this.gatherTimer = null;
          this.gatherExpired = true;
          this.run();
        }, Math.min(this.gatherMs, this.lastCommitMs));
      }
      return;
    }
    if (this.gatherTimer) {
      clearTimeout(this.gatherTimer);
      this.gatherTimer = null;
    }
    this.gatherExpired = false;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    let batch: Pending[];
    if (this.queue.length <= this.maxBatch) {
      batch = this.queue;
      this.queue = [];
      this.durableQueued = false;
    } else {
      batch = this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.slice(this.maxBatch);
      this.durableQueued = this.queue.some((p) => p.durable);
    }
    const durable = batch.some((p) => p.durable);
    if (durable) this.tookSessions(batch);
    // Only persist() and post() in it: one journal record is all they need (journal.ts);
    // under steady load the journal is indexed with a batch at least every lazyMs.
    const indexDue = this.journalUnindexed && (this.indexWaiters.length > 0 || performance.now() - this.journalSince >= this.lazyMs);
    if (durable && !indexDue && this.writer.journal && !this.journalRefused && batch.every((p) => p.persisted || !p.resolve)) return this.journal(batch);
    this.write(batch, durable);
  }

  private write(batch: Pending[], durable: boolean): void {
    this.inflight = true;
    const started = durable ? performance.now() : 0;
    this.writer.write(batch.map((p) => p.item), durable).then(
      (w) => {
        this.commits++;
        this.journalUnindexed = false; // a write indexes all that was journaled before it (next() answers indexed())
        this.indexFailing = false;
        if (durable) this.lastCommitMs = performance.now() - started;
        if (w.signed) this.signed(w.signed, w.durable ?? durable);
        else this.unsignedBatch();
        this.next();
        settle(batch, w);
      },
      (err: Error) => {
        this.indexFailing = this.journalUnindexed;
        this.answerReaders(); // the reads go on, and find what is there
        this.next();
        for (const p of batch) p.reject(err);
      },
    );
  }

  private journal(batch: Pending[]): void {
    this.inflight = true;
    this.journalInflight = true;
    const started = performance.now();
    this.writer.journal!(batch.map((p) => p.item)).then(
      (taken) => {
        this.journalInflight = false;
        if (!taken) {
          this.journalRefused = true;
          this.inflight = false;
          return this.write(batch, true);
        }
        this.commits++;
        if (!this.journalUnindexed) this.journalSince = performance.now();
        this.journalUnindexed = true;
        this.lastCommitMs = performance.now() - started;
        this.next();
        for (const p of batch) p.persisted?.();
      },
      (err: Error) => {
        this.journalInflight = false;
        this.next();
        for (const p of batch) p.reject(err);
      },
    );
  }

  private answerReaders(): void {
    const readers = this.indexWaiters;
    this.indexWaiters = [];
    for (const r of readers) r();
  }

  /** The batch's durable sessions become the ones the next durable batch waits for; those still queued (past maxBatch) count as back. */
  private tookSessions(batch: Pending[]): void {
    const taken = new Set<string>();
    for (const p of batch) if (p.durable && p.item.sessionId !== null) taken.add(p.item.sessionId);
    const left = new Set<string>();
    this.anonymousDurable = false;
    for (const p of this.queue) {
      if (!p.durable) continue;
      if (p.item.sessionId === null) this.anonymousDurable = true;
      else left.add(p.item.sessionId);
    }
    this.lastSessions = taken;
    this.queuedSessions = left;
    this.comeBack = 0;
    for (const id of left) if (taken.has(id)) this.comeBack++;
  }

  // What queued during the commit goes next, at once if anyone is waiting on it.
  private next(): void {
    this.inflight = false;
    // indexed() callers, those that came while the write was out too: it took everything
    // journaled (no record is written while a write is out), so they are answered now.
    if (!this.journalUnindexed) this.answerReaders();
    if (this.beatWanted) return this.run();
    if (this.queue.length > 0 || (this.journalUnindexed && !this.indexFailing)) {
      if (this.durableQueued || this.urgent || this.indexWaiters.length > 0) this.run();
      else this.startLater();
      return;
    }
    if (this.journalUnindexed && !this.closed) this.startLater();
    this.urgent = false;
    const waiters = this.drained;
    this.drained = [];
    for (const w of waiters) w();
  }
}

// type, sessionId and actor are stored as plain text (data is JSON, escaped). A NUL byte
// would fail the whole batch on Postgres, and a lone surrogate would be stored as U+FFFD
// and then no longer match its hash: refuse both up front.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// Most events repeat the type, session id and actor of the one before: check a string
// once, not per event (strings are immutable, so the last good ones stay good).
const checked: string[] = ['', '', '', ''];
let nextChecked = 0;
function checkColumnText(field: string, v: string | null): void {
  if (v === null || v === checked[0] || v === checked[1] || v === checked[2] || v === checked[3]) return;
  if (typeof v !== 'string') throw new TypeError(`audit event ${field} must be a string`);
  if (v.includes('\0') || LONE_SURROGATE.test(v)) throw new TypeError(`audit event ${field} holds a NUL or an unpaired surrogate`);
  checked[nextChecked] = v;
  nextChecked = (nextChecked + 1) & 3;
}

/** An encoded event's input as settle() reads it: nobody waits for its AuditEvent (data is in item.dataJson). */
const encodedInput = (item: BatchItem): AuditEventInput => ({ type: item.type, sessionId: item.sessionId, actor: item.actor, data: {} });

// Encode now: a bad event fails its own caller, never the batch it would join.
export function encodeItem(e: AuditEventInput): BatchItem {
  if (typeof e.type !== 'string' || e.type === '') throw new TypeError('an audit event needs a type');
  const item: BatchItem = { type: e.type, sessionId: e.sessionId ?? null, actor: e.actor ?? null, dataJson: canonicalJson(e.data ?? {}) };
  checkColumnText('type', item.type);
  checkColumnText('sessionId', item.sessionId);
  checkColumnText('actor', item.actor);
  return item;
}

/** encodeItem, or null after telling onError why the event cannot be recorded (post(): nobody awaits it). */
export function encodeOrReport(e: AuditEventInput, onError: (e: Error) => void): BatchItem | null {
  try {
    return encodeItem(e);
  } catch (err) {
    onError(err as Error);
    return null;
  }
}

function settle(batch: Pending[], w: BatchWritten): void {
  // journaled events the writer indexed first sit ahead of the batch's own in the chain
  const skip = w.journaled ?? 0;
  let prev = skip > 0 ? w.hashes[skip - 1] : w.prevHash;
  for (let i = 0; i < batch.length; i++) {
    const p = batch[i];
    const hash = w.hashes[skip + i];
    p.persisted?.();
    if (p.resolve) p.resolve({
      type: p.item.type,
      sessionId: p.item.sessionId,
      actor: p.item.actor,
      data: p.input.data,
      seq: w.firstSeq + skip + i,
      ts: w.ts,
      prevHash: prev,
      hash,
    });
    prev = hash;
  }
}
