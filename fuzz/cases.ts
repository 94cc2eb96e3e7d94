// Saved fuzz findings: one JSON file per kind of failure under test/fuzz-cases/ (the bytes
// and the seed that made them), replayed by test/unit/fuzz-cases.test.ts so a fixed crash
// stays fixed. A finding not fixed yet goes to test/fuzz-cases/open/ (replayed as todo).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCodecCase, type CodecCase } from './codec.ts';
import { runRelayCase, type RelayCase } from './relay.ts';

export type FuzzCase = CodecCase | RelayCase;
export interface SavedCase {
  /** what failed when it was found */
  finding: string;
  case: FuzzCase;
}

export const CASES_DIR = new URL('../test/fuzz-cases/', import.meta.url).pathname;

export function runCase(c: FuzzCase): Promise<void> {
  return c.part === 'codec' ? runCodecCase(c) : runRelayCase(c);
}

/** One failure kind: the message with its numbers and quoted names taken out. */
export function kindOf(e: unknown): string {
  const err = e as Error;
  // every desync is one kind: which answer came first depends on the sequence, not the cause
  if (String(err?.message).startsWith('desync with an honest server')) return 'Finding: desync with an honest server';
  const name = err?.constructor?.name ?? 'Error';
  return `${name}: ${String(err?.message ?? e)}`.replace(/0x[0-9a-f]+|\d+/gi, 'N').replace(/"[^"]*"/g, '"…"').slice(0, 160);
}

export function loadCases(dir = CASES_DIR): { file: string; saved: SavedCase }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: join(dir, f), saved: JSON.parse(readFileSync(join(dir, f), 'utf8')) as SavedCase }));
}

export function saveCase(saved: SavedCase, open: boolean): string {
  const dir = open ? join(CASES_DIR, 'open') : CASES_DIR;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${saved.case.part}-${saved.case.seed}.json`);
  writeFileSync(file, JSON.stringify(saved, null, 1) + '\n');
  return file;
}

/** Smaller versions of a case (chunks or batches dropped, chunks cut), for a minimal reproducer. */
function* shrinks(c: FuzzCase): Generator<FuzzCase> {
  if (c.part === 'codec') {
    for (let i = 0; i < c.chunks.length; i++) yield { ...c, chunks: c.chunks.filter((_, j) => j !== i) };
    if (c.chunks.length > 1) yield { ...c, chunks: [c.chunks.join('')] };
    for (let i = 0; i < c.chunks.length; i++) {
      const h = c.chunks[i]!;
      if (h.length > 2) yield { ...c, chunks: c.chunks.map((x, j) => (j === i ? h.slice(0, h.length - 2) : x)) };
    }
  } else {
    for (let i = 0; i < c.batches.length; i++) yield { ...c, batches: c.batches.filter((_, j) => j !== i) };
    for (let i = 0; i < c.batches.length; i++) {
      const b = c.batches[i]!;
      if (b.length > 1) yield { ...c, batches: c.batches.map((x, j) => (j === i ? [x.join('')] : x)) };
    }
  }
}

/** Greedy shrinking while the same kind of failure still happens (bounded tries). */
export async function minimize(c: FuzzCase, kind: string, tries = 300): Promise<FuzzCase> {
  let best = c;
  for (let progress = true; progress && tries > 0; ) {
    progress = false;
    for (const smaller of shrinks(best)) {
      if (--tries <= 0) break;
      try {
        await runCase(smaller);
      } catch (e) {
        if (kindOf(e) === kind) {
          best = smaller;
          progress = true;
          break;
        }
      }
    }
  }
  return best;
}
