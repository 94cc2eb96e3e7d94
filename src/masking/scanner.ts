// The detector set for one policy: which detectors run (enabled entities), when (the
// prefilter's trigger bits), and the resolved, non-overlapping findings of a text.
import type { BuiltinEntity } from './entities.ts';
import { Findings } from './findings.ts';
import * as T from './prefilter.ts';
import { detectEmail } from './detectors/email.ts';
import { detectCard, detectIban, detectPhone, detectSsn } from './detectors/numbers.ts';
import { detectIpv4, detectIpv6 } from './detectors/network.ts';
import { detectPem, detectTokens } from './detectors/tokens.ts';
import { detectDobContext, detectKeywordSecret, detectUrlPassword } from './detectors/context.ts';
import { compileCustom, type CustomEntity, type Detector } from './detectors/custom.ts';

export interface Builtin {
  trigger: number;
  /** the detector runs when any of these entities is enabled */
  entities: BuiltinEntity[];
  run: Detector;
}

// In the order of their trigger bits, the order scan runs them in. The order matters
// not for correctness (overlaps are resolved after), only the trigger gates matter for speed.
export const BUILTINS: readonly Builtin[] = [
  { trigger: T.T_EMAIL, entities: ['email'], run: detectEmail },
  { trigger: T.T_URL_PASSWORD, entities: ['password'], run: detectUrlPassword },
  { trigger: T.T_KEYWORD, entities: ['password', 'secret', 'aws_secret_key'], run: detectKeywordSecret },
  { trigger: T.T_PHONE, entities: ['phone'], run: detectPhone },
  { trigger: T.T_CARD, entities: ['card'], run: detectCard },
  { trigger: T.T_SSN, entities: ['ssn'], run: detectSsn },
  { trigger: T.T_IBAN, entities: ['iban'], run: detectIban },
  { trigger: T.T_IPV4, entities: ['ip'], run: detectIpv4 },
  { trigger: T.T_IPV6, entities: ['ip'], run: detectIpv6 },
  { trigger: T.T_TOKEN, entities: ['api_token', 'aws_access_key', 'aws_secret_key', 'jwt'], run: detectTokens },
  { trigger: T.T_PEM, entities: ['private_key'], run: detectPem },
  { trigger: T.T_DOB, entities: ['dob'], run: detectDobContext },
];

export class Scanner {
  /** the enabled detectors by the position of their trigger bit */
  private readonly byBit: Detector[] = [];
  private readonly custom: Detector[];
  /** union of the trigger bits any enabled detector listens to */
  readonly triggerMask: number;
  /** some enabled detector may report an entity the policy disabled: findings need a filter */
  private readonly mayReportDisabled: boolean;
  readonly findings = new Findings();

  constructor(
    readonly enabled: ReadonlySet<string>,
    custom: CustomEntity[] = [],
  ) {
    let mask = 0;
    for (const b of BUILTINS) {
      if (!b.entities.some((e) => enabled.has(e))) continue;
      this.byBit[bitIndex(b.trigger)] = b.run;
      mask |= b.trigger;
    }
    this.triggerMask = mask;
    this.mayReportDisabled = BUILTINS.some((b) => b.entities.some((e) => enabled.has(e)) && b.entities.some((e) => !enabled.has(e)));
    this.custom = custom.map(compileCustom);
  }

  get hasCustom(): boolean {
    return this.custom.length > 0;
  }

  /**
   * Run the detectors `triggers` allows over `s`; returns the kept finding indexes (text
   * order) into `this.findings`, or null when nothing was found. Not re-entrant.
   */
  scan(s: string, triggers: number): readonly number[] | null {
    const f = this.findings;
    f.reset();
    // One step per trigger bit set (usually one or two), not one per detector.
    for (let t = triggers & this.triggerMask; t !== 0; t &= t - 1) this.byBit[bitIndex(t & -t)](s, f);
    for (let i = 0; i < this.custom.length; i++) this.custom[i](s, f);
    if (f.n === 0) return null;
    if (!this.mayReportDisabled) return f.resolve();
    // Detectors shared by several entities may report one the policy disabled.
    let kept = 0;
    for (let i = 0; i < f.n; i++) {
      if (this.enabled.has(f.entity[i])) {
        f.start[kept] = f.start[i];
        f.end[kept] = f.end[i];
        f.entity[kept] = f.entity[i];
        kept++;
      }
    }
    f.n = kept;
    return kept === 0 ? null : f.resolve();
  }
}

/** Position of the lowest set bit of `bit`, a power of two. */
function bitIndex(bit: number): number {
  return 31 - Math.clz32(bit);
}
