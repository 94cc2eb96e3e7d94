// Events of the tamper-evident log. Every fact Warden keeps about a session, a
// command, a result or an authentication is one of these, chained by hash.
import type { SignedHead } from './head.ts';
import type { BatchItem } from './chain.ts';

export type EventType =
  | 'session.start'
  | 'session.end'
  | 'command'
  | 'result'
  | 'auth.denied'
  | 'auth.ok'
  | 'token.created'
  | 'token.revoked'
  | (string & {});

/** What a caller hands the log. */
export interface AuditEventInput {
  type: EventType;
  sessionId?: string | null;
  /** identity name (or "system") that caused the event */
  actor?: string | null;
  data: Record<string, unknown>;
}

/** What the log stores: the input plus its place and hashes in the chain. */
export interface AuditEvent extends AuditEventInput {
  seq: number;
  /** ISO-8601 time with milliseconds, set by the log */
  ts: string;
  prevHash: string;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  /** events checked */
  count: number;
  lastSeq: number;
  /** human sentence naming the first broken event, when not ok */
  problem?: string;
  /** seq of the first broken event, when known */
  brokenSeq?: number;
  /**
   * what kind of break: content changed, event(s) removed, reordered, tail cut off, a bad
   * checkpoint (chains from before signed heads), a bad or missing signed head, events
   * no signed head covers, or a newest head too old for a running gateway
   */
  kind?: 'changed' | 'removed' | 'reordered' | 'truncated' | 'checkpoint' | 'head' | 'unsigned' | 'stale';
  /** signed heads checked */
  heads: number;
  /** events after the newest signed head, committed within signEvery of it (hash-chained, not yet signed) */
  unsignedTail?: number;
  /** the newest signed head in the chain */
  newestHead?: { n: number; seq: number; ts: string; kind: string };
  /** checkpoints of a chain written before signed heads, checked */
  checkpoints: number;
  /** the key the signatures were checked against, and whether it was pinned (not read from the data dir) */
  keyId?: string;
  keyPinned: boolean;
}

/** The hash-chained log (see ./log.ts). */
export interface AuditLog {
  /**
   * Queue an event; it is written with others in one transaction (group commit). The
   * promise resolves once that transaction committed. durable (default true) asks for
   * the commit to be on disk and for the batch to start at once; durable false lets the
   * event wait a few ms for company and its commit skip the fsync.
   */
  append(e: AuditEventInput, opts?: { durable?: boolean }): Promise<AuditEvent>;
  /**
   * append(e, { durable: false }) for a caller that does not wait for the event: no
   * promise and no AuditEvent are made; a failure goes to onError.
   */
  post(e: AuditEventInput, onError: (e: Error) => void): void;
  /**
   * A durable event for a caller that needs it on disk, not its place in the chain (a
   * command let through by strict recording): resolves once it is synced, in the
   * journal where the store has one (journal.ts), before it is in the chain; it joins
   * the chain in append order within lazyMs, or when the store is next opened after a crash.
   */
  persist(e: AuditEventInput): Promise<void>;
  /** post() and persist() of events another thread encoded (log.ts encodeItem): a data-plane worker's sessions */
  postEncoded(item: BatchItem, onError: (e: Error) => void): void;
  persistEncoded(item: BatchItem): Promise<void>;
  /** such a thread: flush() first has it hand over the events it holds */
  addFlushSource(handOver: () => Promise<void>): void;
  /** Resolves once every event persisted so far is in the store (a read that must see them waits on it). */
  indexed(): Promise<void>;
  /** Resolves when every event appended so far is committed. */
  flush(): Promise<void>;
  verify(): Promise<VerifyResult>;
  /** the newest head this log's writer signed and committed (null before the first) */
  readonly lastHead: SignedHead | null;
  /** Flush, sign a close head, hand it to the sinks, stop the writer. Later appends reject. */
  close(): Promise<void>;
  /** events appended but not yet committed (for metrics and back-pressure) */
  readonly queued: number;
  /** transactions committed by this log so far (events / commits = mean batch size) */
  readonly commits: number;
}
