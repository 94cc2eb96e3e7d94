// The large body of bench:http, the same bytes in two processes without keeping them: blocks
// of 64 KiB from one pseudo-random block (a hash chain, the same in every process), each stamped with its index so a lost, doubled or reordered
// block changes the hash. The upstream sends it (download) and the client sends it (upload);
// each end hashes what it got and compares with the hash of the generator.
import { createHash } from 'node:crypto';

export const BLOCK = 64 * 1024;
const base = Buffer.alloc(BLOCK);
for (let off = 0, h = Buffer.from('warden bench'); off < BLOCK; off += h.length) {
  h = createHash('sha256').update(h).digest();
  h.copy(base, off);
}

/** `total` bytes (a multiple of BLOCK), block by block; `seed` picks the base block's stamp. */
export function* bodyBlocks(total: number, seed = 0): Generator<Buffer> {
  for (let i = 0; i * BLOCK < total; i++) {
    const b = Buffer.from(base);
    b.writeUInt32BE(i, 0);
    b.writeUInt32BE(seed, 4);
    yield b;
  }
}

/** sha256 (hex) of bodyBlocks(total, seed) */
export function bodyHash(total: number, seed = 0): string {
  const h = createHash('sha256');
  for (const b of bodyBlocks(total, seed)) h.update(b);
  return h.digest('hex');
}
