// Signed heads kept as JSON lines outside the store: the copy in the data dir and the
// file in each directory sink (same name, same format). Writers append (ship.ts); verify
// and the writer's start-up check only need the newest head of a file, because heads
// are linked: a copy of head n vouches for the store's heads 1..n. So a file is read
// from its end, and its size does not matter.
import { open } from 'node:fs/promises';
import { type SignedHead, parseHead } from './head.ts';

export const HEADS_FILE = 'audit-heads.jsonl';

const WINDOW = 64 * 1024;

/**
 * The well-formed head with the highest n among the file's last lines; null for a
 * missing or empty file. Lines that do not parse are skipped (a crash can tear the
 * last one). Appends from several processes can land slightly out of order, which is
 * why the highest n of the window wins, not the last line.
 */
export async function newestHeadInFile(file: string): Promise<SignedHead | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    for (let window = WINDOW; ; window *= 4) {
      const start = Math.max(0, size - window);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      const lines = buf.toString('utf8').split('\n');
      if (start > 0) lines.shift(); // the first one is cut
      let best: SignedHead | null = null;
      for (const line of lines) {
        if (!line.trim()) continue;
        let h: SignedHead | null = null;
        try {
          h = parseHead(JSON.parse(line));
        } catch {
          continue;
        }
        if (h && (!best || h.n > best.n)) best = h;
      }
      if (best || start === 0) return best;
    }
  } finally {
    await fh.close();
  }
}
