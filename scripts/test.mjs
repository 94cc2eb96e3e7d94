#!/usr/bin/env node
// `npm test`: type check, lint and every test file, the three at once.
// Test files run in parallel child processes (node's runner); most of them wait on
// sockets, not on the CPU, so the concurrency is higher than the core count.
// Usage: npm test [-- <path filter>...]   e.g. npm test -- codec audit   (npm test -- vitest: the console's component tests)
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';

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
const tmp = mkdtempSync(join(tmpdir(), 'warden-test-'));
const countsReporter = new URL('./test-counts.mjs', import.meta.url).href;
// A test that hangs fails after 4 minutes instead of holding CI until its own limit.
// Two reporters: spec for people, and per-file counts (test-counts.mjs) for the summary.
// --no-concurrent-sparkplug: see bin/warden.js (an exit that deadlocks, nodejs/node#54918).
const testArgs = (list, n, countsFile) => [
  '--no-concurrent-sparkplug', '--import', 'tsx', '--test', '--test-timeout=240000', `--test-concurrency=${n}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${countsReporter}`, `--test-reporter-destination=${countsFile}`,
  ...list,
];

/** { "<file relative to the root>": { pass, fail } } as the counts reporter wrote it. */
function readCounts(file) {
  let raw = {};
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // no counts (the runner died before reporting): the exit code says it failed
  }
  return Object.fromEntries(Object.entries(raw).map(([f, c]) => [relative(root, resolve(root, f)), c]));
}

console.log(`node ${process.version} (${process.execPath})`);
// (no file matched the filter: no node run, which with no file would run every test it finds)
const none = Promise.resolve({ name: 'tests', code: 0, out: '' });
const jobs = [files.length ? run('tests', process.execPath, testArgs(files, concurrency, join(tmp, 'counts.json'))) : none];
if (filters.length === 0) {
  jobs.push(run('typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { quiet: true }));
  // The web console's browser code has its own compiler settings (DOM, JSX): web/tsconfig.json.
  jobs.push(run('typecheck web', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'web/tsconfig.json'], { quiet: true }));
  jobs.push(run('lint', process.execPath, ['node_modules/eslint/bin/eslint.js', '.'], { quiet: true }));
}
// The console's component tests (Vitest, web/src/**/*.test.tsx): their own counts join the total.
const vitestFile = join(tmp, 'vitest.json');
const withVitest = filters.length === 0 || filters.includes('vitest');
const vitest = withVitest
  ? run('vitest', process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'web/vitest.config.ts', '--reporter=json', `--outputFile=${vitestFile}`], { quiet: true })
  : null;
const results = await Promise.all(jobs);

const first = readCounts(join(tmp, 'counts.json'));
let passed = 0, failed = 0;
for (const c of Object.values(first)) {
  passed += c.pass;
  failed += c.fail;
}
// The runner failed but no test says so (it died, or a file's failure was not reported): one failure.
if (results[0].code !== 0 && failed === 0) failed = 1;

// Files that failed under full parallel load run once more, alone. A file that passes
// then is flaky (seen: a rare hang while many servers start at once): its first-run
// failures are counted as flaky, under its name, never as passes. One that fails again
// keeps its failures.
const flaky = [];
const failedFiles = Object.keys(first).filter((f) => f.endsWith('.test.ts') && first[f].fail > 0);
if (results[0].code !== 0 && failedFiles.length > 0 && failedFiles.length <= 3) {
  console.log(`\nretrying alone: ${failedFiles.join(', ')}`);
  const again = await run('tests', process.execPath, testArgs(failedFiles, '1', join(tmp, 'retry.json')));
  const second = readCounts(join(tmp, 'retry.json'));
  // A retry that failed with no test to blame proves nothing about any file.
  const unexplained = again.code !== 0 && Object.values(second).every((c) => c.fail === 0);
  for (const f of failedFiles) {
    if (unexplained || !second[f] || second[f].fail > 0 || second[f].pass === 0) continue;
    flaky.push(f);
    failed -= first[f].fail;
    console.log(`flaky: ${f} had ${first[f].fail} failing test(s) under load and passed alone`);
  }
}
if (vitest) {
  const v = await vitest;
  let counts = { pass: 0, fail: 0 };
  // the failing tests by name, with their messages (the JSON report is the only place they are)
  let failures = '';
  try {
    const r = JSON.parse(readFileSync(vitestFile, 'utf8'));
    counts = { pass: r.numPassedTests, fail: r.numFailedTests };
    for (const file of r.testResults ?? []) {
      for (const a of file.assertionResults ?? []) if (a.status === 'failed') failures += `✖ ${relative(root, file.name)}: ${a.fullName}\n${(a.failureMessages ?? []).join('\n')}\n`;
    }
  } catch {
    // no report: the exit code says what happened
  }
  if (v.code !== 0 && counts.fail === 0) counts.fail = 1;
  passed += counts.pass;
  failed += counts.fail;
  if (counts.fail > 0) console.log(`✖ vitest (web/) failed:\n${failures || v.out}`);
  console.log(`${counts.fail ? '✖' : '✔'} vitest (web/): ${counts.pass} passed, ${counts.fail} failed`);
}
rmSync(tmp, { recursive: true, force: true });

for (const r of results.slice(1)) {
  if (r.code === 0) {
    passed += 1;
    console.log(`✔ ${r.name}`);
  } else {
    failed += 1;
    console.log(`✖ ${r.name} failed:\n${r.out}`);
  }
}
// The last line is the plain count CI reads; the flaky files are named just above it.
if (flaky.length > 0) console.log(`${passed} passed, ${failed} failed, ${flaky.length} flaky (${flaky.join(', ')})`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
