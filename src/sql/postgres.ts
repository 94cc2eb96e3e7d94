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
import { literalShape } from './literal-shape.ts';
import type { Classification, Statement } from './types.ts';

export { literalShape };

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
  lastText = '';
  lastClassification = null;
  stats.exactHits = stats.shapeHits = stats.normalizedHits = stats.parses = 0;
}

/**
 * Classify a (possibly multi-statement) SQL text. Never throws for bad SQL: a parse
 * error yields one `unknown`, opaque statement. Throws only when the parser is not loaded.
 * The result is shared with later callers: treat it as read-only.
 */
export function classifyPostgres(text: string): Classification {
  if (!ready) throw new Error('the Postgres parser is not loaded: await initPostgresParser() first');
  // One statement is classified two or three times on its way (the relay's plan, the
  // policy, the result): the last text answers again without hashing it into the caches.
  // The same text always classifies the same (the caches below are keyed on it too).
  if (text === lastText && lastClassification) return lastClassification;
  const c = classifyUncached(text);
  lastText = text;
  lastClassification = c;
  return c;
}

let lastText = '';
let lastClassification: Classification | null = null;

function classifyUncached(text: string): Classification {
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
      // The key may have been cached by a text without a shape (the same statement with
      // $1, as the extended protocol or a record sends it): without this, every later text
      // of this shape would pay the normalize again.
      if (shape !== null) byShape.set(shape, hit);
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
