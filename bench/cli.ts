// CLI start-up: `warden --help`, `warden --version` and `warden token create --config`
// (a local data dir), each run N times; prints the median wall time and the median CPU
// time of the process and its threads (user + system, from /usr/bin/time), next to a bare
// `node -e 0` measured in the same run. Targets (issue 18): --help <= 150 ms,
// token create <= 400 ms.
// Usage: npm run bench:cli [-- <runs>]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib.ts';

const runs = Number(process.argv[2] ?? 15);
const node = process.execPath;
const bin = join(ROOT, 'bin/warden.js');
const dir = mkdtempSync(join(tmpdir(), 'warden-bench-cli-'));
const config = join(dir, 'warden.yaml');
writeFileSync(config, `gateway:\n  dataDir: ${join(dir, 'data')}\n`);

// Make sure the compiled tree is fresh, as `npm install` leaves it, and the data dir exists.
execFileSync(node, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
execFileSync(node, [bin, 'token', 'create', '--config', config, '--name', 'warm'], { stdio: 'ignore' });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(args: string[]): { wallMs: number; cpuMs: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', node, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed:\n${r.stderr}`);
    const [u, s] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    cpu.push((u! + s!) * 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

const rows: [string, string[]][] = [
  ['node -e 0 (the floor)', ['-e', '0']],
  ['warden --version', [bin, '--version']],
  ['warden --help', [bin, '--help']],
  ['warden token create --config', [bin, 'token', 'create', '--config', config, '--name', 'bench', '--groups', 'dev']],
];
console.log(`${runs} runs each, median (node ${process.version})`);
console.log('command'.padEnd(32), 'wall ms'.padStart(9), 'cpu ms'.padStart(9));
for (const [name, args] of rows) {
  const r = measure(args);
  console.log(name.padEnd(32), r.wallMs.toFixed(0).padStart(9), r.cpuMs.toFixed(0).padStart(9));
}
