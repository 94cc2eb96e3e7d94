// What the group-commit log needs from a backend: write one batch as one transaction
// (reading the chain head under a lock, so other processes can append too) with its
// signed head, and sign a head over the chain as it stands (idle beats, close, adopt).
import type { BatchItem, BatchWritten } from './chain.ts';
import type { HeadKind, SignedHead } from './head.ts';

export interface ChainWriter {
  /** One transaction. `durable` false lets the commit skip its fsync (async recording). */
  write(items: BatchItem[], durable: boolean): Promise<BatchWritten>;
  /**
   * Put events on disk ahead of the chain (journal.ts): resolves true once they are
   * synced; the next write() indexes them ahead of its own items. false: this writer
   * may not journal now (the caller commits them with write()). Absent: no journal.
   */
  journal?(items: BatchItem[]): Promise<boolean>;
  /** A head over the chain as it stands, committed durably; null on an empty chain (or an adopt with heads there). */
  sign(kind: HeadKind): Promise<SignedHead | null>;
  close(): Promise<void>;
}

export interface WriterConfig {
  privatePem: string;
  /** sign a batch only when this long has passed since the newest head (ms; 0 or absent: every batch) */
  signEveryMs?: number;
  /** SQLite: start a new journal generation once this many bytes are indexed (default 64 MB; journal.ts) */
  journalRotateBytes?: number;
}
