// The per-result-set masker: decided once per column when the row description
// arrives, applied to every value on the hot path. A column is one of:
//   pass  - nothing to do (numbers, dates... with no rule; `skip` rules);
//   scan  - text-like: run the detectors, replace what they find inside the value;
//   check - typed column with a `scan` rule: if anything is found, replace the whole value by type;
//   mask  - a rule says the whole value goes, replaced in a form valid for the type;
//   number - a number (or array, range of them) that can hold a card: its integer digits
//           go to the numeric detectors, a finding replaces it whole;
//   bytes - bytea: its bytes are scanned as text and written back in the same format;
//   decode - a binary value that is not text (record, array, numeric...): read as text,
//           masked whole on a finding, and masked whole when it cannot be read.
// Fail closed: only a type the engine says provably carries no text passes (value-types.ts).
// The masker reads a column's neutral value type, never a wire type code; the engine walks
// its own row format and asks for each value (maskWire, maskText).
import type { Entity } from './entities.ts';
import { builtinApplies, guessEntity, maskedSource, type ColumnInfo, type CompiledRule } from './columns.ts';
import { TEXT_VALUE, type BinaryForm, type TypeClass, type ValueType } from './value-types.ts';
import { T_CARD, T_EMAIL, T_NON_ASCII, T_PHONE, triggersOf, triggersOfBytes } from './prefilter.ts';
import { integerDigitsOf } from './value-text.ts';
import { isWholeEmail as wholeEmail } from './detectors/email.ts';
import { isWholeCard as wholeCard, isWholePhone as wholePhone } from './detectors/numbers.ts';
import type { Style, Stylist } from './styles.ts';
import type { Scanner } from './scanner.ts';
import type { TextMasker } from './text.ts';
import { hashedTyped, partialTyped, placeholderOf } from './typed.ts';

const PASS = 0, SCAN = 1, CHECK = 2, MASK = 3, NUMBER = 4, BYTES = 5, DECODE = 6;
/** The detectors a number goes to: a card (Luhn-checked) or a phone. */
const NUMERIC_TRIGGERS = T_CARD | T_PHONE;
/** A card has 13 digits at least: a shorter number text cannot hold one. */
const CARD_MIN_DIGITS = 13;
// Module constants for what is read on every value: under a CJS transform (tsx, tests,
// benches) each use of an imported binding is a getter call.
const NON_ASCII = T_NON_ASCII;
const T_EMAIL_ONLY = T_EMAIL;
const T_PHONE_ONLY = T_PHONE;
const T_CARD_ONLY = T_CARD;
const bytesTriggers = triggersOfBytes;
const isWholeEmail = wholeEmail;
const isWholePhone = wholePhone;
const isWholeCard = wholeCard;

interface Plan {
  kind: number;
  type: TypeClass;
  value: ValueType;
  binary: boolean;
  /** how the binary form is read (when binary) */
  form: BinaryForm | null;
  /** binary format: offset of the UTF-8 text in the value, -1 when the bytes are not text */
  textOffset: number;
  entity: Entity;
  style: Style | undefined;
  /** the replacement bytes when they do not depend on the value (redact style, text column) */
  fixed: Buffer | null;
  /** money: its text has group commas between the digits */
  money: boolean;
  /**
   * A structured text form (record, composite, unknown type) whose numbers are also read
   * as numbers: `(1,4539578763621486.00)` holds a card the text detectors do not see.
   */
  digits: boolean;
}

export interface MaskerParts {
  text: TextMasker;
  stylist: Stylist;
  rules: CompiledRule[];
  typedReplacement: 'null' | 'placeholder';
  styleOf(entity: Entity): Style;
  /** entity is enabled (inet columns are masked only when `ip` is) */
  enabled: ReadonlySet<string>;
  /**
   * A JSON document masked structurally (by key and by value), re-serialised; null when it
   * does not parse. Used once the scan found something in a json column, so a finding
   * outside a string (a card as a number) cannot break the document.
   */
  json(text: string): string | null;
}


function planFor(col: ColumnInfo, p: MaskerParts): Plan {
  const value = col.value ?? TEXT_VALUE;
  const type = value.type;
  const form = value.binary ?? null;
  const binary = form !== null;
  const plan: Plan = { kind: PASS, type, value, binary, form, textOffset: form ? form.textOffset : 0, entity: 'masked', style: undefined, fixed: null, money: value.grouped === true, digits: false };
  let rule = p.rules.find((r) => r.test(col) && builtinApplies(r, type));
  // A value computed from (or shown by a view of) a masked column is masked as that column.
  let named = col;
  if (rule?.action !== 'mask' && col.sources) {
    const inherited = maskedSource(col.sources, p.rules);
    if (inherited) [rule, named] = [inherited.rule, inherited.source];
  }
  if (rule?.action === 'skip') return plan;
  if (rule?.action === 'mask') {
    plan.kind = MASK;
    // The table's own name for the column says more than an alias; either may name it.
    const fromColumn = named.column !== undefined ? guessEntity(named.column) : 'masked';
    plan.entity = rule.entity ?? (fromColumn !== 'masked' ? fromColumn : guessEntity(named.name));
    plan.style = rule.style;
    // The partial form of a derived value shows other parts (`reverse(ssn)`, `substr(ssn, 1, 4)`): redacted.
    if (named !== col && (rule.style ?? p.styleOf(plan.entity)) === 'partial') plan.style = 'redact';
    if (type === 'text' && (plan.style ?? p.styleOf(plan.entity)) === 'redact') plan.fixed = Buffer.from(p.stylist.render(plan.entity, '', 'redact'));
    return plan;
  }
  if (type === 'inet' && p.enabled.has('ip')) {
    plan.kind = MASK;
    plan.entity = 'ip';
    return plan;
  }
  const kind = value.read;
  if (kind === 'pass') {
    if (rule?.action === 'scan' && !binary) plan.kind = CHECK;
  } else if (binary) {
    // a number sent as its text (MySQL's binary DECIMAL) is read by its digits, as in the text protocol
    if (plan.textOffset >= 0) plan.kind = kind === 'number' || kind === 'numbers' ? NUMBER : SCAN;
    else plan.kind = kind === 'bytes' ? BYTES : DECODE;
  }
  else if (kind === 'bytes') plan.kind = BYTES;
  // With or without a scan rule: only the digits of a number can hold anything.
  else if (kind === 'number' || kind === 'numbers') plan.kind = NUMBER;
  else {
    plan.kind = SCAN;
    plan.digits = value.digits === true;
  }
  return plan;
}

export class ResultMasker {
  private readonly plans: Plan[];
  private readonly masked: boolean[];
  /** false when no column needs any work: the engine may forward rows untouched */
  readonly active: boolean;
  private readonly text: TextMasker;
  private readonly scanner: Scanner;

  constructor(
    readonly columns: ColumnInfo[],
    private readonly p: MaskerParts,
  ) {
    this.plans = columns.map((c) => planFor(c, p));
    this.masked = columns.map(() => false);
    this.active = this.plans.some((pl) => pl.kind !== PASS);
    this.text = p.text;
    this.scanner = p.text.scanner;
  }

  /** Names of the columns in which at least one value was masked so far. */
  maskedColumns(): string[] {
    return this.columns.filter((_, i) => this.masked[i]).map((c) => c.name);
  }

  /** Columns a rule masks whole (known before any row), for a result's description. */
  ruleColumns(): string[] {
    return this.columns.filter((_, i) => this.plans[i].kind === MASK).map((c) => c.name);
  }

  /** A whole-value replacement of column `i` in text format; null is SQL NULL. */
  private replaceWhole(pl: Plan, value: string, entity: Entity): string | null {
    const style = pl.style ?? this.p.styleOf(entity);
    if (pl.type === 'text') return value.length === 0 ? value : this.p.stylist.render(entity, value, style);
    if (pl.type === 'json') return JSON.stringify(this.p.stylist.render(entity, value, style));
    let v: string | null = null;
    if (style === 'hash') v = hashedTyped(pl.type, pl.value.intBits ?? 53, this.p.stylist.digest(entity, value) + this.p.stylist.digest(entity, `${value}\u0000`));
    else if (style === 'partial') v = partialTyped(pl.type, value);
    if (v === null && this.p.typedReplacement === 'placeholder') v = placeholderOf(pl.type);
    return v;
  }

  /**
   * Mask one text-format value of column `i`. Returns the same string instance when
   * nothing changed, a new string, or null (SQL NULL) for a typed column without placeholder.
   */
  maskText(i: number, value: string | null): string | null {
    if (value === null) return null;
    const pl = this.plans[i];
    switch (pl.kind) {
      case PASS:
        return value;
      case SCAN: {
        let out = this.p.text.mask(value);
        if (pl.digits && (triggersOf(out) & T_CARD_ONLY) !== 0 && this.numberFinds(integerDigitsOf(out, false)) !== null) {
          this.masked[i] = true;
          return this.replaceWhole(pl, value, 'card');
        }
        if (out === value) return value;
        if (pl.type === 'json') out = this.p.json(value) ?? out;
        this.masked[i] = true;
        return out;
      }
      case CHECK: {
        const e = this.p.text.finds(value);
        if (e === null) return value;
        this.masked[i] = true;
        return this.replaceWhole(pl, value, e);
      }
      case NUMBER: {
        const e = this.numberFinds(integerDigitsOf(value, pl.money));
        if (e === null) return value;
        this.masked[i] = true;
        return this.replaceWhole(pl, value, e);
      }
      case BYTES: {
        const codec = pl.value.bytesText;
        const text = codec ? codec.decode(value) : value;
        const out = this.p.text.mask(text);
        if (out === text) return value;
        this.masked[i] = true;
        return codec ? codec.encode(out) : out;
      }
      default:
        this.masked[i] = true;
        return this.replaceWhole(pl, value, pl.entity);
    }
  }

  /**
   * Mask one value given as bytes `buf[start, end)` in the column's wire format.
   * Returns undefined when the bytes stay as they are (no allocation), a Buffer (shared
   * when the replacement never varies, as `[EMAIL]`: read it, do not write to it), or
   * null for SQL NULL.
   */
  maskBytes(i: number, buf: Buffer, start = 0, end = buf.length): Buffer | null | undefined {
    const r = this.maskWire(i, buf, start, end);
    return typeof r === 'string' ? Buffer.from(r, 'utf8') : r;
  }

  /**
   * maskBytes without the final encoding: a string is a replacement still to be written as
   * UTF-8 (an engine rebuilding its row writes it straight in, so a masked value costs no
   * Buffer of its own). A returned Buffer may be shared: read it, do not write to it.
   */
  maskWire(i: number, buf: Buffer, start: number, end: number): Replacement {
    const pl = this.plans[i];
    if (pl.kind === PASS) return undefined;
    if (pl.kind === NUMBER && end - start < CARD_MIN_DIGITS && !this.scanner.hasCustom) return undefined; // an id, a count
    if (pl.kind === DECODE) return this.maskDecoded(i, pl, buf, start, end);
    if (pl.kind === BYTES && pl.binary) {
      const text = (buf as unknown as Latin1Slicer).latin1Slice(start, end);
      const out = this.p.text.mask(text);
      if (out === text) return undefined;
      this.masked[i] = true;
      return Buffer.from(out, 'latin1');
    }
    if (pl.binary) {
      if (pl.textOffset < 0) {
        if (pl.kind !== MASK) return undefined;
        this.masked[i] = true;
        return null;
      }
      start += pl.textOffset;
    }
    if (pl.kind === SCAN) {
      // Nothing is found in an empty value (a finding is never empty); common in sparse columns.
      if (end === start) return undefined;
      const scanner = this.scanner;
      const bits = bytesTriggers(buf, start, end);
      const t = bits & scanner.triggerMask;
      if (t === 0 && !scanner.hasCustom) return undefined;
      // A value that is one email or one phone number and nothing else (an email or phone
      // column): the finding is known without decoding the text or running a detector.
      if (pl.type === 'text' && (t === T_EMAIL_ONLY || t === T_PHONE_ONLY) && (bits & NON_ASCII) === 0 && !scanner.hasCustom) {
        const entity = t === T_EMAIL_ONLY ? (isWholeEmail(buf, start, end) ? 'email' : null) : isWholePhone(buf, start, end) ? 'phone' : null;
        if (entity !== null) return this.wholeValue(i, entity, buf, start, end);
      }
      // ASCII decodes as latin1, which skips UTF-8 validation; same string either way.
      const s = bits & NON_ASCII ? buf.toString('utf8', start, end) : (buf as unknown as Latin1Slicer).latin1Slice(start, end);
      // A value that is one card number and nothing else (a card column): no regex.
      if (pl.type === 'text' && t === T_CARD_ONLY && (bits & NON_ASCII) === 0 && !scanner.hasCustom && isWholeCard(s)) {
        return this.wholeValue(i, 'card', buf, start, end);
      }
      let out = this.text.maskTriggered(s, t);
      if (pl.digits && (t & T_CARD_ONLY) !== 0 && this.numberFinds(integerDigitsOf(out, false)) !== null) {
        this.masked[i] = true;
        return this.replaceWhole(pl, s, 'card');
      }
      if (out === s) return undefined;
      if (pl.type === 'json') out = this.p.json(s) ?? out;
      this.masked[i] = true;
      return pl.binary && pl.textOffset > 0 ? this.encode(pl, out, buf, start - pl.textOffset) : out;
    }
    if (pl.fixed !== null && !pl.binary) {
      if (end === start) return undefined; // an empty string stays empty
      this.masked[i] = true;
      return pl.fixed;
    }
    const out = this.maskText(i, buf.toString('utf8', start, end));
    return out === null ? null : this.encode(pl, out, buf, start - (pl.binary ? pl.textOffset : 0));
  }

  /** ASCII bytes of column `i` that are one `entity` and nothing else, masked whole. */
  private wholeValue(i: number, entity: Entity, buf: Buffer, start: number, end: number): Replacement {
    this.masked[i] = true;
    return this.p.stylist.redactedBytes(entity) ?? this.p.stylist.render(entity, buf.toString('latin1', start, end));
  }

  /** The first entity the numeric detectors (and custom ones) find in a number's digits. */
  private numberFinds(digits: string): Entity | null {
    const t = triggersOf(digits) & NUMERIC_TRIGGERS & this.scanner.triggerMask;
    if (t === 0 && !this.scanner.hasCustom) return null;
    const kept = this.scanner.scan(digits, t);
    return kept === null ? null : this.scanner.findings.entity[kept[0]];
  }

  /**
   * A binary value that is not text: read as text (binary-values.ts) and replaced whole
   * when anything is found in it, or when it cannot be read (a user type's binary form,
   * a malformed value). The replacement is a valid value of the type where one exists
   * (zero, an empty array or range) and the typed replacement asks for one; otherwise
   * SQL NULL, the one value every client parses in any column.
   */
  private maskDecoded(i: number, pl: Plan, buf: Buffer, start: number, end: number): Buffer | null | undefined {
    if (end === start) return undefined; // no bytes, nothing carried (void, an empty value)
    const form = pl.form!;
    if (form.tooSmallForCard?.(buf, start, end) && !this.scanner.hasCustom) return undefined;
    // no reader for this binary form: it cannot be read, so it is masked whole (fail closed)
    const text = form.decode ? form.decode(buf, start, end) : null;
    if (text !== null && (pl.type === 'number' ? this.numberFinds(text) : this.p.text.finds(text)) === null) return undefined;
    this.masked[i] = true;
    return this.p.typedReplacement === 'placeholder' ? (form.placeholder?.(buf, start, end) ?? null) : null;
  }

  /** A text replacement in the value's wire form: after the bytes that precede the text in a binary form (jsonb's version). */
  private encode(pl: Plan, s: string, buf: Buffer, valueStart: number): Buffer {
    const head = pl.binary ? pl.textOffset : 0;
    if (head > 0) {
      const b = Buffer.allocUnsafe(head + Buffer.byteLength(s));
      buf.copy(b, 0, valueStart, valueStart + head);
      b.write(s, head);
      return b;
    }
    return Buffer.from(s, 'utf8');
  }

  /** Mask an array of text-format values; the same array comes back when nothing changed. */
  maskRow(values: (string | null)[]): (string | null)[] {
    let out: (string | null)[] | null = null;
    for (let i = 0; i < values.length && i < this.plans.length; i++) {
      const v = values[i];
      const m = this.maskText(i, v);
      if (m !== v) {
        out ??= values.slice();
        out[i] = m;
      }
    }
    return out ?? values;
  }
}

/**
 * Buffer's own latin1 decoder, which toString('latin1', ...) calls after argument checks
 * and a switch on the encoding: ~6% of scanning a row of short values. Node has had it
 * on every Buffer since v0.x; it is not in the typings.
 */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/** A value's new wire bytes: as they are, a text still to encode as UTF-8, SQL NULL, or unchanged (undefined). */
export type Replacement = Buffer | string | null | undefined;
