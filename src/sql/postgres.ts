// Postgres statement classification on the real parser (libpg-query, WASM). The module
// loads once (`initPostgresParser`, awaited at start); `classifyPostgres` is synchronous
// so the per-command hot path never waits.
//
// Caching, two levels:
//   1. exact text -> Classification (a Map lookup; extended-protocol clients such as
//      pgbench send the same `... WHERE aid = $1` text every time);
//   2. normalized text -> Classification: the parser's own normalization replaces literal
//      constants with $n, so simple-protocol commands differing only in literals share an
//      entry after one parse. Normalizing costs about half a parse. The key is the
//      normalized TEXT, never a hash, so two different statements cannot collide, and a
//      Classification never depends on a literal's value (pg-walk.ts reads none).
import * as pg from 'libpg-query';
import { hash } from 'node:crypto';
import { Lru } from './lru.ts';
import { buildStatement } from './pg-walk.ts';
import type { Classification, Statement } from './types.ts';

let loaded: Promise<void> | undefined;
let ready = false;

/** Load the parser's WASM module; call (and await) once before classifying. Idempotent. */
export function initPostgresParser(): Promise<void> {
  loaded ??= pg.loadModule().then(() => {
    ready = true;
  });
  return loaded;
}

/** Longest text classified; longer is `unknown` (parsing megabytes would stall every session). */
export const MAX_CLASSIFY_CHARS = 1024 * 1024;
/** Texts longer than this are classified but not cached, so cache memory stays bounded. */
const MAX_CACHED_CHARS = 16 * 1024;

const byText = new Lru<string, Classification>(10_000);
const byKey = new Lru<string, Classification>(10_000);
const byShape = new Lru<string, Classification>(10_000);

export interface ClassifyStats {
  exactHits: number;
  /** found by literalShape, without calling the parser */
  shapeHits: number;
  normalizedHits: number;
  parses: number;
}
const stats: ClassifyStats = { exactHits: 0, shapeHits: 0, normalizedHits: 0, parses: 0 };

/** Counters since start (or the last clear), for metrics and the benchmark. */
export function classifyStats(): Readonly<ClassifyStats> {
  return { ...stats };
}

/** Empty both caches (tests and benchmarks measure cold parses with it). */
export function clearClassifyCache(): void {
  byText.clear();
  byKey.clear();
  byShape.clear();
  stats.exactHits = stats.shapeHits = stats.normalizedHits = stats.parses = 0;
}

/**
 * Classify a (possibly multi-statement) SQL text. Never throws for bad SQL: a parse
 * error yields one `unknown`, opaque statement. Throws only when the parser is not loaded.
 * The result is shared with later callers: treat it as read-only.
 */
export function classifyPostgres(text: string): Classification {
  if (!ready) throw new Error('the Postgres parser is not loaded: await initPostgresParser() first');
  const cacheable = text.length <= MAX_CACHED_CHARS;
  if (cacheable) {
    const hit = byText.get(text);
    if (hit) {
      stats.exactHits++;
      return hit;
    }
  }
  if (text.length > MAX_CLASSIFY_CHARS) return unknown(`the command is longer than ${MAX_CLASSIFY_CHARS} characters`);
  // The same statement with other literals (pgbench, ORMs without bind parameters): found
  // without the parser's normalize, which costs more than the rest of the command's path.
  const shape = literalShape(text);
  if (shape !== null) {
    const hit = byShape.get(shape);
    if (hit) {
      stats.shapeHits++;
      return hit;
    }
  }

  let key: string;
  try {
    key = pg.normalizeSync(text);
  } catch (e) {
    const c = unknown(`not valid SQL: ${errorText(e)}`);
    if (cacheable) byText.set(text, c);
    return c;
  }
  if (cacheable) {
    const hit = byKey.get(key);
    if (hit) {
      stats.normalizedHits++;
      byText.set(text, hit);
      return hit;
    }
  }
  stats.parses++;
  const c = classifyParsed(text, key);
  if (cacheable) {
    byText.set(text, c);
    if (!c.error) byKey.set(key, c);
  }
  if (shape !== null && !c.error) byShape.set(shape, c);
  return c;
}

const SHAPE_MAX_CHARS = 4096;
/** marks standing for a numeric and a string literal in a shape; refused in texts */
const NUM = '\u0001', STR = '\u0002';
const FIRST_WORD = /^\s*(select|insert|update|delete|values|with)(?![\w$\u0080-\uffff])/i;

const isIdentChar = (c: number) =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c >= 0x80;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * The text with every numeric literal and plain single-quoted string replaced by a mark,
 * so that two texts of one shape differ only in the values of such literals, which no
 * classification of a single DML statement depends on (the tree is the same, only
 * constants differ; the one place constants matter, EXPLAIN options, is not DML). Null
 * (no shortcut) for anything whose scanning would take the real lexer: quoted
 * identifiers, dollar quotes, backslashes, comments, prefixed strings (E'', U&'', B'',
 * X'', N''), parameters, control characters, several statements, a number run into
 * letters, or a text not starting with SELECT, INSERT, UPDATE, DELETE, VALUES or WITH.
 */
export function literalShape(text: string): string | null {
  if (text.length > SHAPE_MAX_CHARS || !FIRST_WORD.test(text)) return null;
  let out = '';
  let from = 0; // start of text not yet copied to out
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return null;
    switch (c) {
      case 0x22: // "
      case 0x24: // $
      case 0x5c: // backslash
        return null;
      case 0x2d: // -
        if (text.charCodeAt(i + 1) === 0x2d) return null;
        continue;
      case 0x2f: // /
        if (text.charCodeAt(i + 1) === 0x2a) return null;
        continue;
      case 0x3b: // ; only at the very end
        for (let j = i + 1; j < n; j++) {
          const d = text.charCodeAt(j);
          if (d !== 0x20 && d !== 0x09 && d !== 0x0a && d !== 0x0d) return null;
        }
        continue;
      case 0x27: { // '
        const before = i > 0 ? text.charCodeAt(i - 1) : 0x20;
        if (isIdentChar(before) || before === 0x26 /* & */ || before === 0x27) return null;
        let j = i + 1;
        for (;;) {
          if (j >= n) return null; // unterminated
          if (text.charCodeAt(j) === 0x27) {
            if (text.charCodeAt(j + 1) === 0x27) j += 2;
            else break;
          } else j++;
        }
        // the closing quote at j; a literal running straight into another quote or a word is not plain
        const after = j + 1 < n ? text.charCodeAt(j + 1) : 0x20;
        if (isIdentChar(after)) return null;
        out += text.slice(from, i) + STR;
        from = j + 1;
        i = j;
        continue;
      }
      default: {
        if (!isDigit(c)) continue;
        const before = i > 0 ? text.charCodeAt(i - 1) : 0x20;
        if (isIdentChar(before)) continue; // part of a name (t1)
        if (before === 0x2e /* . */) return null; // .5, a.1
        let j = i;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) === 0x2e) {
          j++;
          while (j < n && isDigit(text.charCodeAt(j))) j++;
        }
        if ((text.charCodeAt(j) | 0x20) === 0x65 /* e */) {
          let k = j + 1;
          if (text.charCodeAt(k) === 0x2b || text.charCodeAt(k) === 0x2d) k++;
          if (!isDigit(text.charCodeAt(k))) return null;
          while (k < n && isDigit(text.charCodeAt(k))) k++;
          j = k;
        }
        const after = j < n ? text.charCodeAt(j) : 0x20;
        if (isIdentChar(after) || after === 0x2e || after === 0x27) return null; // 0x1F, 1_000, 1abc, 1.2.3
        out += text.slice(from, i) + NUM;
        from = j;
        i = j - 1;
      }
    }
  }
  return out + text.slice(from);
}

function classifyParsed(text: string, key: string): Classification {
  try {
    const tree = pg.parseSync(text) as unknown as { stmts?: { stmt?: Record<string, unknown> }[] };
    const statements: Statement[] = [];
    for (const raw of tree.stmts ?? []) {
      const stmt = raw.stmt;
      if (!stmt) continue;
      for (const type in stmt) statements.push(buildStatement(type, stmt[type] as Record<string, unknown>));
    }
    return { key, fingerprint: fingerprintOf(key), statements, hasExecute: statements.some(hasExecute) };
  } catch (e) {
    // a tree too deep for the walker lands here too: unknown, never allow
    return unknown(`could not be classified: ${errorText(e)}`);
  }
}

/** A stable id of the normalized text (sha-256, 16 hex), cheaper than a second parse. */
function fingerprintOf(key: string): string {
  return hash('sha256', key, 'hex').slice(0, 16);
}

function hasExecute(s: Statement): boolean {
  return s.kind === 'execute' || s.nested.some(hasExecute);
}

function unknown(reason: string): Classification {
  return {
    key: '',
    fingerprint: '',
    error: reason,
    hasExecute: false,
    statements: [
      { kind: 'unknown', category: 'unknown', node: '', tables: [], functions: [], noWhere: false, opaque: true, opaqueReason: reason, nested: [] },
    ],
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
