// Masking of one piece of text: prefilter, scan, then rebuild the string only when
// something was found. The same instance comes back when nothing was, so callers can
// compare with `===` and forward the original bytes untouched.
import type { Entity } from './entities.ts';
import { triggersOf } from './prefilter.ts';
import type { Scanner } from './scanner.ts';
import type { Stylist } from './styles.ts';

/** What was masked in a text, for counters and for `maskedColumns`. */
export type OnFinding = (entity: Entity) => void;

export class TextMasker {
  constructor(
    readonly scanner: Scanner,
    readonly stylist: Stylist,
  ) {}

  /** Would the prefilter let any detector look at this text? (Cheap; no allocation.) */
  triggers(s: string): number {
    return triggersOf(s);
  }

  mask(s: string, onFinding?: OnFinding): string {
    const t = triggersOf(s) & this.scanner.triggerMask;
    if (t === 0 && !this.scanner.hasCustom) return s;
    return this.maskTriggered(s, t, onFinding);
  }

  /** `mask` with the trigger bits already computed (by the byte prefilter). */
  maskTriggered(s: string, triggers: number, onFinding?: OnFinding): string {
    const kept = this.scanner.scan(s, triggers);
    if (kept === null) return s;
    const f = this.scanner.findings;
    let out = '';
    let pos = 0;
    for (let k = 0; k < kept.length; k++) {
      const i = kept[k];
      const a = f.start[i];
      const b = f.end[i];
      out += s.slice(pos, a) + this.stylist.renderSpan(f.entity[i], s, a, b);
      pos = b;
      onFinding?.(f.entity[i]);
    }
    return out + s.slice(pos);
  }

  /** True when the scanner finds anything in `s` (for whole-value decisions on typed columns). */
  finds(s: string): Entity | null {
    const t = triggersOf(s) & this.scanner.triggerMask;
    if (t === 0 && !this.scanner.hasCustom) return null;
    const kept = this.scanner.scan(s, t);
    return kept === null ? null : this.scanner.findings.entity[kept[0]];
  }
}
