// The second copy of the checkpoints: an append-only JSON-lines file in the data dir.
// Deleting rows from the store's `checkpoints` table is then not enough to hide a
// truncated tail; the file would have to be edited as well.
import { closeSync, createReadStream, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const CHECKPOINT_FILE = 'audit-checkpoints.jsonl';

export interface Checkpoint {
  seq: number;
  hash: string;
  ts: string;
  signature: string;
  keyId: string;
}

/** Append (and fsync) checkpoints; O_APPEND keeps lines whole across processes. */
export function appendCheckpoints(dataDir: string, cps: Checkpoint[]): void {
  if (cps.length === 0) return;
  const fd = openSync(join(dataDir, CHECKPOINT_FILE), 'a', 0o600);
  try {
    const text = cps.map((c) => JSON.stringify({ seq: c.seq, hash: c.hash, ts: c.ts, signature: c.signature, keyId: c.keyId }) + '\n').join('');
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Every checkpoint in the file. Lines that do not parse are reported, not fatal: a crash
 * can leave a torn last line, and the caller decides what a bad line means.
 */
export async function readCheckpointFile(dataDir: string): Promise<{ checkpoints: Checkpoint[]; badLines: number[] }> {
  const checkpoints: Checkpoint[] = [];
  const badLines: number[] = [];
  const stream = createReadStream(join(dataDir, CHECKPOINT_FILE), 'utf8');
  const missing = new Promise<boolean>((resolve) => {
    stream.once('error', (e) => resolve((e as NodeJS.ErrnoException).code === 'ENOENT'));
    stream.once('open', () => resolve(false));
  });
  if (await missing) return { checkpoints, badLines };
  let n = 0;
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
    n++;
    if (line.trim() === '') continue;
    try {
      const c = JSON.parse(line) as Checkpoint;
      if (!Number.isSafeInteger(c.seq) || typeof c.hash !== 'string' || typeof c.signature !== 'string') throw new Error('shape');
      checkpoints.push(c);
    } catch {
      badLines.push(n);
    }
  }
  return { checkpoints, badLines };
}
