// `npm run fuzz [-- --seconds N] [-- --seed S] [-- --part codec|relay|pg]`: the Postgres frame
// codec and the relay's state machine, fuzzed for a bounded time (default 60 s in all,
// split between the parts). Case k of a part runs seed S+k, so `--seed` reproduces a run.
// Each new kind of failure is shrunk and saved under test/fuzz-cases/ (see cases.ts).
// The cases run in a worker thread watched from here: a case that makes no progress for
// 10 s (a loop that never ends) is stopped and saved as a hang.
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { initPostgresParser } from '../src/sql/postgres.ts';
import { genCodecCase } from './codec.ts';
import { genRelayCase } from './relay.ts';
import { startLive, type Live } from './live-pg.ts';
import { CASES_DIR, kindOf, loadCases, minimize, runCase, saveCase, type FuzzCase } from './cases.ts';

const PARTS = ['codec', 'relay', 'pg'] as const;
/** parts run when none is named (`pg` needs the local Postgres: opt-in) */
const DEFAULT_PARTS = 2;
const HANG_MS = 10_000;
// A worker's start-up (tsx, the Postgres parser's WebAssembly, a test gateway for `pg`) is
// no case: on a loaded machine it took over 10 s and was reported as a hang of case 0.
const START_MS = 120_000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const generate = (part: (typeof PARTS)[number], seed: number): FuzzCase => (part === 'codec' ? genCodecCase(seed).c : genRelayCase(seed));
let live: Live | null = null;

if (isMainThread) {
  const seconds = Number(arg('seconds') ?? 60);
  const seed = Number(arg('seed') ?? (Date.now() % 1_000_000_000));
  const only = arg('part');
  const parts = PARTS.map((p, i) => i).filter((i) => (only ? PARTS[i] === only : i < DEFAULT_PARTS));
  console.log(`fuzz: seed ${seed}, ${seconds} s, parts ${parts.map((i) => PARTS[i]).join(', ')}`);
  // [cases started, part index, seed of the case running]
  const progress = new Int32Array(new SharedArrayBuffer(12));
  let failed = false;
  for (const part of parts) {
    Atomics.store(progress, 0, 0);
    const worker = new Worker(new URL(import.meta.url), { workerData: { part, seed, ms: (seconds * 1000) / parts.length, progress } });
    let last = -1, since = Date.now(), hung = false;
    const watch = setInterval(() => {
      const now = Atomics.load(progress, 0);
      if (now !== last) [last, since] = [now, Date.now()];
      else if (Date.now() - since > (now === 0 ? START_MS : HANG_MS)) {
        hung = true;
        void worker.terminate();
      }
    }, 500);
    const code = await new Promise<number>((resolve) => worker.once('exit', resolve));
    clearInterval(watch);
    if (hung) {
      const s = Atomics.load(progress, 2) >>> 0;
      const file = saveCase({ finding: `hang: no progress for ${HANG_MS / 1000} s`, case: generate(PARTS[part]!, s) }, true);
      console.log(`${PARTS[part]}: HANG at seed ${s} (case ${last}), saved ${file}`);
      failed = true;
    } else if (code !== 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
} else {
  const { part: index, seed, ms, progress } = workerData as { part: number; seed: number; ms: number; progress: Int32Array };
  const part = PARTS[index]!;
  // An exception that escapes every handler is a crash of the case running at the time.
  let escaped: unknown = null;
  process.on('uncaughtException', (e) => (escaped ??= e));
  process.on('unhandledRejection', (e) => (escaped ??= e));
  await initPostgresParser();
  if (part === 'pg') live = await startLive();
  const known = new Set([...loadCases(), ...loadCases(`${CASES_DIR}open/`)].map((c) => c.saved.finding));
  const until = Date.now() + ms;
  const kinds = new Map<string, { count: number; seed: number }>();
  let inputs = 0;
  for (let k = 0; Date.now() < until; k++) {
    const s = (seed + k) >>> 0;
    Atomics.store(progress, 2, s | 0);
    Atomics.add(progress, 0, 1);
    let c: FuzzCase | undefined;
    let error: unknown = null;
    try {
      if (part === 'codec') {
        const g = genCodecCase(s);
        c = g.c;
        g.roundTrip();
      } else if (live) {
        c = genRelayCase(s, live.table);
        await live.run(c);
      } else c = genRelayCase(s);
      if (!live) await runCase(c);
    } catch (e) {
      error = e;
    }
    if (escaped) [error, escaped] = [escaped, null];
    inputs++;
    if (!error) continue;
    const kind = kindOf(error);
    const seen = kinds.get(kind);
    if (seen) {
      seen.count++;
      continue;
    }
    kinds.set(kind, { count: 1, seed: s });
    if (known.has(kind) || !c) continue;
    known.add(kind);
    const small = live ? c : await minimize(c, kind);
    // a desync with an honest server closes the session (fail-closed): saved as open, not a crash
    const file = saveCase({ finding: kind, case: small }, kind.includes('desync'));
    console.log(`  new: ${kind}\n       saved ${file}`);
  }
  const found = [...kinds.values()].reduce((n, v) => n + v.count, 0);
  console.log(`${part}: ${inputs} inputs, ${found} failing, ${kinds.size} kinds`);
  for (const [kind, v] of kinds) console.log(`  ${v.count} × ${kind} (first seed ${v.seed})`);
  await live?.close();
  process.exitCode = kinds.size ? 1 : 0;
}
