// A small seeded generator (mulberry32): every fuzz case is a function of its seed, so a
// crash found once is found again by `npm run fuzz -- --seed N`.
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }
  /** uniform in [0, 2^32) */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** uniform integer in [0, n) */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  /** integer in [lo, hi] */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** a small count, mostly tiny: sizes that hit edges (0, 1) more often than uniform would */
  small(max = 8): number {
    return this.chance(0.3) ? this.int(2) : this.int(max + 1);
  }
  /** an int16 / int32 biased to the edges a length or count field breaks on */
  edgeInt(bits: 16 | 32): number {
    const edges = bits === 16 ? [0, 1, -1, -2, 0x7fff, -0x8000, 2, 3] : [0, 1, -1, -2, 4, 3, 0x7fffffff, -0x80000000, 0x10000, 0x40000000];
    if (this.chance(0.6)) return this.pick(edges);
    return bits === 16 ? ((this.u32() & 0xffff) << 16) >> 16 : this.u32() | 0;
  }
}
