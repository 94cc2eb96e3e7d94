#!/usr/bin/env node
// `npm test`: type check, lint and every test file, the three at once.
// Test files run in parallel child processes (node's runner); most of them wait on
// sockets, not on the CPU, so the concurrency is higher than the core count.
// Usage: npm test [-- <path filter>...]   e.g. npm test -- codec audit
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out.sort();
}

const files = findTests(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));

function run(name, cmd, args, { quiet = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (!quiet) process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; if (!quiet) process.stderr.write(d); });
    child.on('close', (code) => resolve({ name, code, out }));
  });
}

const concurrency = String(Math.max(4, availableParallelism() * 3));
// A test that hangs fails after 4 minutes instead of holding CI until its own limit.
const testArgs = (list, n) => ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=240000', `--test-concurrency=${n}`, ...list];
const jobs = [run('tests', process.execPath, testArgs(files, concurrency))];
if (filters.length === 0) {
  jobs.push(run('typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { quiet: true }));
  jobs.push(run('lint', process.execPath, ['node_modules/eslint/bin/eslint.js', '.'], { quiet: true }));
}
const results = await Promise.all(jobs);

// Files that failed under full parallel load run once more, alone. A file that passes
// then is reported by name as flaky (seen: a rare hang while many servers start at
// once); one that fails again fails the run.
const first = results[0];
const failedFiles = [
  ...new Set([...first.out.matchAll(/^(?:✖ |test at )(\S+?\.test\.ts)(?: \(|:\d)/gm)].map((m) => relative(root, resolve(root, m[1])))),
];
if (first.code !== 0 && failedFiles.length > 0 && failedFiles.length <= 3) {
  console.log(`\nretrying alone: ${failedFiles.join(', ')}`);
  const again = await run('tests', process.execPath, testArgs(failedFiles, '1'));
  if (again.code === 0) {
    console.log(`flaky: ${failedFiles.join(', ')} failed under load and passed alone`);
    const p = /ℹ pass (\d+)/.exec(again.out);
    // Count the first run's passes and the retried files' passes; their first-run failures are dropped.
    first.out = first.out.replace(/ℹ fail \d+/, 'ℹ fail 0').replace(/ℹ pass (\d+)/, (_, n) => `ℹ pass ${Number(n) + (p ? Number(p[1]) : 0)}`);
    first.code = 0;
  }
}

let passed = 0, failed = 0;
for (const r of results) {
  if (r.name === 'tests') {
    const p = /ℹ pass (\d+)/.exec(r.out), f = /ℹ fail (\d+)/.exec(r.out);
    passed += p ? Number(p[1]) : 0;
    failed += f ? Number(f[1]) : (r.code === 0 ? 0 : 1);
  } else if (r.code === 0) {
    passed += 1;
    console.log(`✔ ${r.name}`);
  } else {
    failed += 1;
    console.log(`✖ ${r.name} failed:\n${r.out}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && results.every((r) => r.code === 0) ? 0 : 1);
