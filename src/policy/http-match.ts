// Rules over an HTTP request's query, headers and JSON body fields (http-rule-schema.ts).
//
// Like tables in SQL rules, the values lean the safe way for the rule's action: a block or
// review rule matches when ANY value matches (a header or parameter sent twice, every
// element of `tools[*].name`); an allow rule only when there is a value and EVERY one does.
// A header's value is also read as the comma-separated list it may be (RFC 9110 5.3), and
// block and review rules compare globs without case (a target that reads `Claude-Opus-4` as
// `claude-opus-4` is not given a way past them); allow rules compare exactly.
// A body comparison over a value that is not a number (nor a number's text) cannot be read:
// block and review rules count it as matching, allow rules do not. A body that was not
// read or cannot be read matches no body condition (the classifier made the request
// opaque, so it falls to onUnknown).
import type { Statement } from '../sql/types.ts';
import { parseBodyPath, type Comparison, type FieldCondition, type PathStep } from './http-rule-schema.ts';
import type { RuleMatch } from './rule-schema.ts';

type Mode = 'any' | 'every';
type HttpFacts = NonNullable<Statement['http']>;
export type HttpCondition = (http: HttpFacts) => boolean;

/** The rule's conditions over query, headers and body, as one test; undefined when it has none. */
export function compileHttpConditions(m: RuleMatch, mode: Mode): HttpCondition | undefined {
  const tests: HttpCondition[] = [];
  for (const [name, list] of Object.entries(m.query ?? {})) {
    const re = list.map((g) => glob(g, mode));
    tests.push((h) => setMatches(queryValues(h.path, name), (v) => re.some((r) => r.test(v)), mode));
  }
  for (const [name, list] of Object.entries(m.headers ?? {})) {
    const re = list.map((g) => glob(g, mode));
    tests.push((h) => headerMatches(h.headers?.[name] ?? [], (v) => re.some((r) => r.test(v)), mode));
  }
  for (const [path, cond] of Object.entries(m.body ?? {})) {
    const steps = parseBodyPath(path)!;
    const test = fieldTest(cond as FieldCondition, mode);
    tests.push((h) => h.body !== undefined && 'json' in h.body && setMatches(select(h.body.json, steps), test, mode));
  }
  if (tests.length === 0) return undefined;
  return (h) => tests.every((t) => t(h));
}

/** `*` is any run of characters, newlines included; everything else is literal. */
function glob(pattern: string, mode: Mode): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*')}$`, mode === 'any' ? 'i' : '');
}

function setMatches<T>(values: readonly T[], test: (v: T) => boolean, mode: Mode): boolean {
  return mode === 'any' ? values.some(test) : values.length > 0 && values.every(test);
}

// `a, b` may be one value or a list of two: a block rule matches either reading, an allow
// rule needs the whole value or each of its parts to match.
function headerMatches(values: readonly string[], test: (v: string) => boolean, mode: Mode): boolean {
  const parts = (v: string) => v.split(',').map((p) => p.trim());
  if (mode === 'any') return values.some((v) => test(v) || parts(v).some(test));
  return values.length > 0 && values.every((v) => test(v) || parts(v).every(test));
}

function queryValues(path: string, name: string): string[] {
  const q = path.indexOf('?');
  return q < 0 ? [] : new URLSearchParams(path.slice(q + 1)).getAll(name);
}

/** The values at a path; none when the path leads nowhere (a missing key, a non-array). */
export function select(root: unknown, steps: readonly PathStep[]): unknown[] {
  let values: unknown[] = [root];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const v of values) {
      if ('key' in step) {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, step.key)) next.push((v as Record<string, unknown>)[step.key]);
      } else if (Array.isArray(v)) {
        if ('every' in step) next.push(...v);
        else if (step.index < v.length) next.push(v[step.index]);
      }
    }
    values = next;
  }
  return values;
}

function fieldTest(cond: FieldCondition, mode: Mode): (v: unknown) => boolean {
  if (Array.isArray(cond)) {
    const re = cond.map((g) => glob(g, mode));
    return (v) => {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      return re.some((r) => r.test(text));
    };
  }
  return (v) => {
    const n = numberOf(v);
    if (n === null) return mode === 'any';
    return compare(n, cond);
  };
}

// A number, or a number's text (lenient servers coerce "8192" to 8192); null otherwise.
function numberOf(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v)) return Number(v);
  return null;
}

function compare(n: number, c: Comparison): boolean {
  return (c.gt === undefined || n > c.gt) && (c.gte === undefined || n >= c.gte) && (c.lt === undefined || n < c.lt) && (c.lte === undefined || n <= c.lte);
}
