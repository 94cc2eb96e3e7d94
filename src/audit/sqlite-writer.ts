// The main-thread side of the SQLite audit writer: starts the writer thread and turns
// its replies back into promises. When the thread dies every pending and later write
// fails, so strict recording blocks commands instead of running them unrecorded.
import { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BatchItem, BatchWritten, ChainHead } from './chain.ts';
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

  constructor(file: string, cfg: WriterConfig) {
    this.worker = startWorker({ ...cfg, file });
    this.worker.unref(); // referenced only while a request is out (see call)
    this.worker.on('message', (m: WorkerReply) => this.settle(m));
    this.worker.on('error', (e) => this.fail(new Error(`the audit writer thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`the audit writer thread exited (code ${code})`)));
  }

  /** Resolves once the thread has opened the database, indexed what a crash left in the journal, and read the head: errors show at open, not at the first command. */
  ready(): Promise<ChainHead> {
    return this.call('recover', {});
  }

  write(items: BatchItem[], durable: boolean): Promise<BatchWritten> {
    return this.call('write', { items, durable });
  }

  journal(items: BatchItem[]): Promise<boolean> {
    return this.call('journal', { items });
  }

  sign(kind: HeadKind): Promise<SignedHead | null> {
    return this.call('sign', { kind });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    // Wait for the thread to end (its connection closed), keeping the process alive for it.
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.closing = true;
    this.worker.ref();
    await this.call('close', {});
    await exited;
  }

  private call<T>(op: Op, body: object): Promise<T> {
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

// Sources run as TypeScript through tsx's loader, which a worker thread does not
// inherit when it was registered in code (bin/warden.js): register it in the thread
// first. A built (.js) tree loads the worker directly.
function startWorker(workerData: WriterConfig & { file: string }): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const target = new URL(`./sqlite-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(target, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot =
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target.href)}); })` +
    `.catch((e) => { console.error(e); process.exit(70); });`;
  // execArgv [] so a parent started with `--import tsx` does not register it twice.
  return new Worker(boot, { eval: true, workerData, execArgv: [] });
}

