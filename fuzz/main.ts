// `npm run fuzz [-- --seconds N] [-- --seed S] [-- --part codec|relay]`: the Postgres frame
// codec and the relay's state machine, fuzzed for a bounded time (default 60 s in all,
// split between the parts). Case k of a part runs seed S+k, so `--seed` reproduces a run.
// Each new kind of failure is shrunk and saved under test/fuzz-cases/ (see cases.ts).
import { initPostgresParser } from '../src/sql/postgres.ts';
import { genCodecCase } from './codec.ts';
import { genRelayCase } from './relay.ts';
import { kindOf, loadCases, minimize, runCase, saveCase, type FuzzCase } from './cases.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const seconds = Number(arg('seconds') ?? 60);
const seed = Number(arg('seed') ?? (Date.now() % 1_000_000_000));
const only = arg('part');
const parts = (['codec', 'relay'] as const).filter((p) => !only || p === only);

// An exception that escapes every handler is a crash of the case running at the time.
let escaped: unknown = null;
process.on('uncaughtException', (e) => (escaped ??= e));
process.on('unhandledRejection', (e) => (escaped ??= e));

await initPostgresParser();
const known = new Set([...loadCases(), ...loadCases(`${new URL('../test/fuzz-cases/open/', import.meta.url).pathname}`)].map((c) => c.saved.finding));
console.log(`fuzz: seed ${seed}, ${seconds} s, parts ${parts.join(', ')}`);

let failed = false;
for (const part of parts) {
  const until = Date.now() + (seconds * 1000) / parts.length;
  const kinds = new Map<string, { count: number; seed: number }>();
  let inputs = 0;
  for (let k = 0; Date.now() < until; k++) {
    const s = (seed + k) >>> 0;
    let c: FuzzCase;
    let error: unknown = null;
    try {
      if (part === 'codec') {
        const g = genCodecCase(s);
        c = g.c;
        g.roundTrip();
      } else c = genRelayCase(s);
      await runCase(c!);
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
    if (known.has(kind)) continue;
    known.add(kind);
    const small = await minimize(c!, kind);
    // a desync with an honest server closes the session (fail-closed): saved as open, not a crash
    const file = saveCase({ finding: kind, case: small }, kind.includes('desync'));
    console.log(`  new: ${kind}\n       saved ${file}`);
  }
  const found = [...kinds.values()].reduce((n, v) => n + v.count, 0);
  console.log(`${part}: ${inputs} inputs, ${found} failing, ${kinds.size} kinds`);
  for (const [kind, v] of kinds) console.log(`  ${v.count} × ${kind} (first seed ${v.seed})`);
  if (kinds.size) failed = true;
}
process.exit(failed ? 1 : 0);
