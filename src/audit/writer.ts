// What the group-commit log needs from a backend: write one batch as one transaction
// (reading the chain head under a lock, so other processes can append too), and sign
// the head on close.
import type { BatchItem, BatchWritten } from './chain.ts';
import type { Checkpoint } from './checkpoint-file.ts';

export interface ChainWriter {
  /** One transaction. `durable` false lets the commit skip its fsync (async recording). */
  write(items: BatchItem[], durable: boolean): Promise<BatchWritten>;
  /** Sign the chain head unless a checkpoint already names it; null on an empty chain. */
  checkpointHead(): Promise<Checkpoint | null>;
  close(): Promise<void>;
}

export interface WriterConfig {
  dataDir: string;
  checkpointEvery: number;
  privatePem: string;
}
