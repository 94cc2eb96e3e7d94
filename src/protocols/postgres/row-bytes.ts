// Byte plumbing for rebuilding DataRows on the hot path: reading the rows where they
// lie and writing new ones four bytes at a time. Measured on rows of ~200 bytes with
// two or three values replaced (npm run bench:mask): a byte-at-a-time loop costs
// ~1 ns a byte; DataView words ~0.4; Buffer#copy, set() or subarray() ~55 ns each
// whatever the size, as each makes a view object first.

/** A DataView over all of `b`, so a position in `b` is a position in the view. */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

// New rows are carved from slabs of our own, as Buffer.allocUnsafe carves its pool, so
// one DataView per slab (not one per row) writes them. A slab lives as long as a row
// cut from it does.
const SLAB = 64 * 1024;
let slab = new ArrayBuffer(SLAB);
let slabView: DataView = new DataView(slab);
let slabBytes: Uint8Array = new Uint8Array(slab);
let used = 0;

/** Where `take` put the last row: write through `view`/`bytes` at `base + position`. */
export const out: { view: DataView; bytes: Uint8Array; base: number } = { view: slabView, bytes: slabBytes, base: 0 };

/** A new uninitialised Buffer of `size` bytes; `out` says how to write it. */
export function take(size: number): Buffer {
  // A negative size would move the shared slab's mark back under rows in use (every session's).
  if (!(size >= 0)) throw new RangeError(`a row of ${size} bytes`);
  if (size > SLAB / 4) {
    const b = Buffer.allocUnsafeSlow(size);
    out.view = viewOf(b);
    out.bytes = b;
    out.base = 0;
    return b;
  }
  if (used + size > SLAB) {
    slab = new ArrayBuffer(SLAB);
    slabView = new DataView(slab);
    slabBytes = new Uint8Array(slab);
    used = 0;
  }
  out.view = slabView;
  out.bytes = slabBytes;
  out.base = used;
  // Keep rows 8-aligned in the slab: aligned word writes, and no two rows share a word.
  used += (size + 7) & ~7;
  return Buffer.from(slab, out.base, size);
}

/** Copy src[from, to) to dst at `w`, a word at a time; returns the position after it. */
export function copyWords(src: DataView, from: number, to: number, dst: DataView, w: number): number {
  const n = to - from;
  let i = 0;
  for (; i + 4 <= n; i += 4) dst.setUint32(w + i, src.getUint32(from + i));
  for (; i < n; i++) dst.setUint8(w + i, src.getUint8(from + i));
  return w + n;
}

/** Bytes of `s` in UTF-8 as Buffer writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 UTF-16 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}
