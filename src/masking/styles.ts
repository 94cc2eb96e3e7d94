// How a found value is replaced. `redact`: `[EMAIL]`. `partial`: enough left to
// recognise a value without revealing it (`j***@example.com`, `****4242`, `***-**-6789`,
// `ghp_****`). `hash`: `[EMAIL:1f2e3d4c5b6a7988]`, an HMAC-SHA256 of the normalised
// value under the deployment's key, truncated to 64 bits, stable so joins and group-bys
// on masked columns still line up, and not reversible without the key.
import { createHmac } from 'node:crypto';
import { labelOf, type Entity } from './entities.ts';

export type Style = 'redact' | 'partial' | 'hash';

/** Replace every character of `s` but the last `keep` that is a letter or digit with '*', keeping separators. */
function starAllBut(s: string, keep: number, keepFirst = 0): string {
  let alnum = 0;
  for (let i = 0; i < s.length; i++) if (/[A-Za-z0-9]/.test(s[i])) alnum++;
  let seen = 0;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (/[A-Za-z0-9]/.test(ch)) {
      seen++;
      out += seen <= keepFirst || seen > alnum - keep ? ch : '*';
    } else out += ch;
  }
  return out;
}

/** The prefix that names a token's kind (`ghp_`, `sk_live_`, `xoxb-`, `AKIA`), never its secret part. */
function tokenPrefix(v: string): string {
  const m = /^(?:[a-z]{2,6}_(?:live_|test_|pat_)?|[a-z]{2,6}-(?:ant-|proj-)?|AKIA|ASIA|AIza|ya29\.|GOCSPX-|github_pat_)/.exec(v);
  return m ? m[0] : '';
}

export function partial(entity: Entity, v: string): string {
  switch (entity) {
    case 'email': {
      const at = v.lastIndexOf('@');
      return `${v[0]}***${v.slice(at)}`;
    }
    case 'card':
      return `****${v.replace(/\D/g, '').slice(-4)}`;
    case 'ssn':
      return `***-**-${v.slice(-4)}`;
    case 'phone':
      return starAllBut(v, 4);
    case 'iban':
      return starAllBut(v, 4, 2);
    case 'ip':
      return v.includes(':') ? `${v.slice(0, v.indexOf(':'))}:****` : `${v.slice(0, v.indexOf('.'))}.*.*.*`;
    case 'dob': {
      const y = /\d{4}/.exec(v);
      return y ? `${y[0]}-**-**` : '**-**-****';
    }
    case 'api_token':
    case 'aws_access_key':
      return `${tokenPrefix(v)}****`;
    case 'jwt':
      return 'eyJ****';
    case 'private_key':
      return `[${labelOf(entity)}]`;
    case 'password':
    case 'secret':
    case 'aws_secret_key':
      return '****';
    default:
      return v.length <= 2 ? '**' : `${v[0]}***`;
  }
}

/** What is hashed, so that `4242 4242 ...` and `4242424242...` (or `A@X.COM`, `a@x.com`) meet. */
function normalise(entity: Entity, v: string): string {
  switch (entity) {
    case 'card':
    case 'ssn':
    case 'phone':
      return v.replace(/\D/g, '');
    case 'iban':
      return v.replace(/\s/g, '').toUpperCase();
    case 'email':
      return v.toLowerCase();
    default:
      return v;
  }
}

export class Stylist {
  /** `[EMAIL]` per entity: the redact style is the default and its text never varies */
  private readonly redacted = new Map<string, string>();

  constructor(
    private readonly key: Buffer,
    private readonly styleOf: (entity: Entity) => Style,
  ) {}

  /** HMAC-SHA256 of the normalised value, first 16 hex characters. */
  digest(entity: Entity, v: string): string {
    return createHmac('sha256', this.key).update(normalise(entity, v)).digest('hex').slice(0, 16);
  }

  /**
   * Per entity: its `[EMAIL]` text when its style is redact, else null. renderSpan runs
   * for every finding; one lookup here replaces a style lookup and a label lookup.
   */
  private readonly redactedOrNull = new Map<string, string | null>();

  /** `[EMAIL]` when the entity's style is redact (its text then never depends on the value), else null. */
  redactedText(entity: Entity): string | null {
    let r = this.redactedOrNull.get(entity);
    if (r === undefined) this.redactedOrNull.set(entity, (r = this.styleOf(entity) === 'redact' ? this.redact(entity) : null));
    return r;
  }

  /** redactedText as UTF-8, encoded once per entity: a whole value masked by the DataRow engine. Not to be written to. */
  redactedBytes(entity: Entity): Buffer | null {
    let r = this.redactedBytesOrNull.get(entity);
    if (r === undefined) {
      const text = this.redactedText(entity);
      this.redactedBytesOrNull.set(entity, (r = text === null ? null : Buffer.from(text)));
    }
    return r;
  }

  private readonly redactedBytesOrNull = new Map<string, Buffer | null>();

  /** render of `s[a, b)`; the redact style never reads the value, so it is not sliced out. */
  renderSpan(entity: Entity, s: string, a: number, b: number): string {
    return this.redactedText(entity) ?? this.render(entity, s.slice(a, b));
  }

  render(entity: Entity, v: string, style: Style = this.styleOf(entity), label?: string): string {
    if (style === 'partial') return partial(entity, v);
    if (style === 'hash') return `[${label ?? labelOf(entity)}:${this.digest(entity, v)}]`;
    return label === undefined ? this.redact(entity) : `[${label}]`;
  }

  /** `[EMAIL]`, built once per entity. */
  private redact(entity: Entity): string {
    let r = this.redacted.get(entity);
    if (r === undefined) this.redacted.set(entity, (r = `[${labelOf(entity)}]`));
    return r;
  }
}

/** What replaces a value the target echoes in an error message (a column rule cannot reach one): whole, whatever it held. */
export const ECHOED_VALUE = '[REDACTED]';
