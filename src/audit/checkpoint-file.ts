// The data dir's copy of the checkpoints of a chain written before signed heads (every
// N events, and on close). Nothing writes it any more; verify still reads it, so a
// chain from an older Warden verifies as it did (signed heads: heads-file.ts).
import { createReadStream } from 'node:fs';
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
