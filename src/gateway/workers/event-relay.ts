// A worker's sessions record through the main thread's audit log. Events are encoded here
// (their canonical JSON: the part of recording that grows with traffic) and cross as one
// packed string per batch: at once (the next turn of this loop) when a command waits for
// its record to be on disk, within flushMs otherwise. A persist resolves when the main
// thread says the event is synced (journal or commit), so strict recording holds here as
// on the main thread; when the main thread cannot record it, the command is refused.
import type { MessagePort } from 'node:worker_threads';
import { packItems } from '../../audit/batch-wire.ts';
import type { BatchItem } from '../../audit/chain.ts';
import { encodeItem, encodeOrReport } from '../../audit/log.ts';
import type { AuditEventInput } from '../../audit/types.ts';
import type { EventSink } from '../../session/session.ts';
import type { FromWorker, ToWorker } from './messages.ts';

export class EventRelay implements EventSink {
  private items: BatchItem[] = [];
  /** per item: 0 for a post, else the id of the persist waiting for it */
  private ids: number[] = [];
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly port: Pick<MessagePort, 'postMessage'>,
    private readonly flushMs: number,
  ) {}

  post(e: AuditEventInput, onError: (e: Error) => void): void {
    if (this.closed) return onError(new Error('the audit log is closed'));
    const item = encodeOrReport(e, onError);
    if (!item) return;
    this.items.push(item);
    this.ids.push(0);
    if (!this.immediate && !this.timer) this.timer = setTimeout(() => this.send(), this.flushMs);
  }

  persist(e: AuditEventInput): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the audit log is closed'));
    let item: BatchItem;
    try {
      item = encodeItem(e);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.items.push(item);
      this.ids.push(id);
      this.immediate ??= setImmediate(() => this.send());
    });
  }

  append(e: AuditEventInput, opts?: { durable?: boolean }): Promise<unknown> {
    if (opts?.durable !== false) return this.persist(e);
    return new Promise<void>((resolve, reject) => {
      this.post(e, reject);
      resolve();
    });
  }

  /** The main thread's answer to persists. */
  settle(m: Extract<ToWorker, { t: 'persisted' | 'unpersisted' }>): void {
    for (const id of m.ids) {
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      if (!w) continue;
      if (m.t === 'persisted') w.resolve();
      else w.reject(new Error(m.message));
    }
  }

  /** Send what is queued now (closing: the sessions' last records). */
  send(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = this.timer = null;
    if (this.items.length === 0) return;
    const msg: FromWorker = { t: 'events', items: packItems(this.items), ids: this.ids };
    this.items = [];
    this.ids = [];
    this.port.postMessage(msg);
  }

  /** Later events are refused (the worker is closing); what is queued goes now, and waiting persists are still answered. */
  close(): void {
    this.send();
    this.closed = true;
  }
}
