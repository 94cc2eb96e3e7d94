// The SQLite audit writer on the calling thread, for short-lived commands (the CLI's local
// mode: `token create`, `users add`...) that append a handful of events and exit: starting
// the writer thread (sqlite-writer.ts), with its own module graph, cost more CPU than the
// command's own work. A gateway keeps the thread: there every fsync would stall sockets.
import type { BatchItem, BatchWritten } from './chain.ts';
import type { HeadKind, SignedHead } from './head.ts';
import { SqliteChain } from './sqlite-chain.ts';
import type { ChainWriter, WriterConfig } from './writer.ts';

export class InlineSqliteChainWriter implements ChainWriter {
  private readonly chain: SqliteChain;

  constructor(file: string, cfg: WriterConfig) {
    this.chain = new SqliteChain({ ...cfg, file });
    this.chain.recover(); // errors show at open, as the thread's ready() makes them
  }

  write(items: BatchItem[], durable: boolean): Promise<BatchWritten> {
    return this.run(() => this.chain.write(items, durable));
  }

  sign(kind: HeadKind): Promise<SignedHead | null> {
    return this.run(() => this.chain.sign(kind));
  }

  async close(): Promise<void> {
    this.chain.close();
  }

  /** The same failure the thread reports, as a rejection (the group-commit log expects one). */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(Object.assign(new Error(`audit write failed: ${(e as Error).message}`), { code: (e as { code?: string }).code }));
    }
  }
}
