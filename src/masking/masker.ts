// compileMasker: turns a `masking:` config into the object the engines and front doors
// call. Everything that can be decided from the config (enabled detectors, compiled
// custom regexes, column rules, styles, the HMAC key) is decided here, once.
import { randomBytes } from 'node:crypto';
import { compileRules, guessEntity, type ColumnInfo, type CompiledRule } from './columns.ts';
import { maskingConfigSchema, type MaskingConfig, type MaskingInput } from './config.ts';
import { expandEntities, type Entity } from './entities.ts';
import { maskJsonValue } from './json.ts';
import { ResultMasker } from './result.ts';
import { Scanner } from './scanner.ts';
import { createStreamMasker, type StreamMasker, type StreamMaskerOptions } from './stream.ts';
import { Stylist, type Style } from './styles.ts';
import { TextMasker } from './text.ts';

export interface Masker {
  readonly enabled: boolean;
  readonly config: MaskingConfig;
  /** Decide per column once (on the row description); then mask values with the result. */
  forColumns(columns: ColumnInfo[]): ResultMasker;
  /** Plain text (notices, logs, terminal lines). Same instance back when unchanged. */
  maskText(text: string): string;
  /** A server message such as `Key (email)=(a@b.cc) already exists`: rules by column name apply too. */
  maskMessage(text: string): string;
  /** Parsed JSON: by key (column rules by name) and by value. Same object back when unchanged. */
  maskJson<T>(value: T): T;
  /** A stream of text chunks (terminal, HTTP body) that never lets a split secret through. */
  createStreamMasker(opts?: StreamMaskerOptions): StreamMasker;
}

export interface CompileOptions {
  /** key of the `hash` style when the config has no `hmacKey` (e.g. from the data dir) */
  hmacKey?: Buffer | string;
}

/** Postgres `Key (a, b)=(x, y)` in a unique or foreign key violation. */
const KEY_DETAIL = /Key \(([^)]*)\)=\((.*?)\)( already exists| is not present| is still referenced|$)/g;

export function compileMasker(input: MaskingInput | MaskingConfig = {}, opts: CompileOptions = {}): Masker {
  const config = maskingConfigSchema.parse(input);
  const { entities } = expandEntities(config.entities);
  const enabled = new Set<string>(entities);
  // A custom entity runs when listed in `entities` by name, or when `entities` holds `all` (the default).
  const listed = new Set(config.entities.map((e) => e.toLowerCase()));
  const custom = config.custom.filter((c) => listed.has('all') || listed.has(c.name.toLowerCase()));
  for (const c of custom) enabled.add(c.name);

  const styles = new Map<string, Style>(Object.entries(config.styles));
  for (const c of config.custom) if (c.style) styles.set(c.name, c.style);
  const styleOf = (e: Entity): Style => styles.get(e) ?? config.style;

  const key = config.hmacKey ?? opts.hmacKey ?? randomBytes(32);
  const stylist = new Stylist(Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8'), styleOf);
  const scanner = new Scanner(enabled, custom);
  const text = new TextMasker(scanner, stylist);
  const rules: CompiledRule[] = config.enabled ? compileRules(config.columns, config.defaultColumns, enabled) : [];
  const nameRules = rules.filter((r) => r.nameOnly);
  const jsonParts = { text, stylist, rules: nameRules, styleOf };
  const maskJsonText = (s: string): string | null => {
    try {
      return JSON.stringify(maskJsonValue(JSON.parse(s), jsonParts));
    } catch {
      return null;
    }
  };
  const parts = { text, stylist, rules, typedReplacement: config.typedReplacement, styleOf, enabled, json: maskJsonText };

  if (!config.enabled) {
    const off = new TextMasker(new Scanner(new Set()), stylist);
    const skipAll: CompiledRule = { action: 'skip', nameOnly: true, test: () => true };
    return {
      enabled: false,
      config,
      forColumns: (cols) => new ResultMasker(cols, { ...parts, rules: [skipAll] }),
      maskText: (s) => s,
      maskMessage: (s) => s,
      maskJson: (v) => v,
      createStreamMasker: (o) => createStreamMasker(off, o),
    };
  }

  function maskMessage(s: string): string {
    let out = s;
    if (s.includes('Key (')) {
      out = s.replace(KEY_DETAIL, (all: string, cols: string, vals: string, tail: string) => {
        const names = cols.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
        const rule = names.map((name) => nameRules.find((r) => r.test({ name }))).find((r) => r?.action === 'mask');
        if (!rule) return all;
        const entity = rule.entity ?? guessEntity(names[0]);
        return `Key (${cols})=(${stylist.render(entity, vals, rule.style ?? styleOf(entity))})${tail}`;
      });
    }
    return text.mask(out);
  }

  return {
    enabled: true,
    config,
    forColumns: (cols) => new ResultMasker(cols, parts),
    maskText: (s) => text.mask(s),
    maskMessage,
    maskJson: <T>(v: T) => maskJsonValue(v, jsonParts) as T,
    createStreamMasker: (o) => createStreamMasker(text, o),
  };
}
