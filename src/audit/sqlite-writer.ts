// The main-thread side of the SQLite audit writer: starts the writer thread and turns
// its replies back into promises. When the thread dies every pending and later write
// fails, so strict recording blocks commands instead of running them unrecorded.
import type { Worker } from 'node:worker_threads';
import { startThread } from '../runtime/thread.ts';
import type { BatchItem, BatchWritten } from './chain.ts';
import { OwnedJournal } from './journal.ts';
import { packItems, packJournaled } from './batch-wire.ts';
import type { HeadKind, SignedHead } from './head.ts';
import type { WorkerReply, WorkerRequest } from './sqlite-worker.ts';
import type { ChainWriter, WriterConfig } from './writer.ts';

type Pending = { resolve: (v: any) => void; reject: (e: Error) => void };
type Op = WorkerRequest extends infer R ? (R extends { op: infer O } ? O : never) : never;

export class SqliteChainWriter implements ChainWriter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  private closing = false;

  /** the journal, when this process holds it (ready()) */
  private owned: OwnedJournal | null = null;
  /** the last write that should have indexed journaled records failed (cleared by one that succeeds) */
  private indexFailed: Error | null = null;

  constructor(
    private readonly file: string,
    private readonly cfg: WriterConfig,
  ) {
    this.worker = startThread(import.meta.url, 'sqlite-worker', { ...cfg, file });
    this.worker.unref(); // referenced only while a request is out (see call)
    this.worker.on('message', (m: WorkerReply) => this.settle(m));
    this.worker.on('error', (e) => this.fail(new Error(`the audit writer thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`the audit writer thread exited (code ${code})`)));
  }

  /**
   * Resolves once the thread has opened the database and indexed what a crash left in the
   * journal (errors show at open, not at the first command), and this process holds the
   * journal when no other one does.
   */
  async ready(): Promise<void> {
    const owned = OwnedJournal.take(this.file, this.cfg.journalRotateBytes);
    try {
      // the lock first: once it is held nobody appends, so the position recover() leaves is the journal's end
      const at = await this.call<{ gen: number; offset: number }>('recover', {});
      owned?.open(at);
      this.owned = owned;
    } catch (e) {
      owned?.close();
      throw e;
    }
  }

  async write(items: BatchItem[], durable: boolean): Promise<BatchWritten> {
    const journaled = this.owned?.unindexed();
    let w: BatchWritten;
    try {
      w = await this.call<BatchWritten>('write', { items: packItems(items), durable, journaled: journaled && packJournaled(journaled) });
    } catch (e) {
      if (journaled) this.indexFailed = e as Error;
      throw e;
    }
    this.indexFailed = null;
    if (journaled && this.owned) {
      this.owned.indexed(journaled);
      const r = this.owned.rotation();
      if (r && (await this.call<boolean>('rotate', r))) this.owned.rotated();
    }
    return w;
  }

  /** On this thread: one write and one fdatasync (journal.ts, OwnedJournal); false when another process holds the journal. */
  journal(items: BatchItem[]): Promise<boolean> {
    if (!this.owned) return Promise.resolve(false);
    // Fail closed: while the store does not take what was journaled (a tampered chain, a
    // dead thread, a full disk), nothing more is let through on the journal's word.
    const refused = this.dead ?? this.indexFailed;
    if (refused) return Promise.reject(refused);
    try {
      this.owned.append(items);
      return Promise.resolve(true);
    } catch (e) {
      return Promise.reject(new Error(`audit journal write failed: ${(e as Error).message}`));
    }
  }

  async sign(kind: HeadKind): Promise<SignedHead | null> {
    // a head covers what was journaled before it (a close head above all: nothing follows it)
    if (this.owned?.hasUnindexed) await this.write([], true);
    return this.call('sign', { kind });
  }

  async close(): Promise<void> {
    this.owned?.close();
    this.owned = null;
    if (this.dead) return;
    // Wait for the thread to end (its connection closed), keeping the process alive for it.
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.closing = true;
    this.worker.ref();
    await this.call('close', {});
    await exited;
  }

  private call<T = unknown>(op: Op, body: object): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, op, ...body } as WorkerRequest);
    });
  }

  private settle(m: WorkerReply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
    if (m.ok) p.resolve(m.value);
    else p.reject(Object.assign(new Error(`audit write failed: ${m.message}`), { code: m.code }));
  }

  private fail(e: Error): void {
    if (!this.dead) this.dead = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

