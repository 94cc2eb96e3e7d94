// Where detectors put what they found: parallel arrays reused across values, so a scan
// that finds nothing allocates nothing. A detector only appends; the scanner resolves
// overlaps afterwards.
import { priorityOf, type Entity } from './entities.ts';

export class Findings {
  start: number[] = [];
  end: number[] = [];
  entity: Entity[] = [];
  n = 0;

  push(start: number, end: number, entity: Entity): void {
    if (end <= start) return;
    const i = this.n++;
    this.start[i] = start;
    this.end[i] = end;
    this.entity[i] = entity;
  }

  reset(): void {
    this.n = 0;
  }

  /**
   * Keep a set of non-overlapping findings, higher priority first, then the longer, then
   * the earlier; returns their indexes in text order. Read-only: a single finding (the
   * common case) is answered with a shared array rather than a new one.
   */
  resolve(): readonly number[] {
    if (this.n <= 1) return this.n === 1 ? ONLY_FIRST : NONE;
    const idx: number[] = [];
    for (let i = 0; i < this.n; i++) idx.push(i);
    const pr = (i: number) => priorityOf(this.entity[i]);
    idx.sort((a, b) => pr(b) - pr(a) || this.end[b] - this.start[b] - (this.end[a] - this.start[a]) || this.start[a] - this.start[b]);
    const kept: number[] = [];
    for (const i of idx) {
      let free = true;
      for (const k of kept) {
        if (this.start[i] < this.end[k] && this.start[k] < this.end[i]) {
          free = false;
          break;
        }
      }
      if (free) kept.push(i);
    }
    return kept.sort((a, b) => this.start[a] - this.start[b]);
  }
}

const NONE: readonly number[] = Object.freeze([]);
const ONLY_FIRST: readonly number[] = Object.freeze([0]);
