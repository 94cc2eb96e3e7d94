// `npm test`'s accounting (scripts/test.mjs): a file that fails under load and passes
// when run alone is named and counted as flaky, never turned into passes; one that
// fails again stays failed. CI reads the last line, a plain `N passed, N failed`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function runTests(mode: 'once' | 'always'): Promise<{ code: number; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-flaky-'));
  dirs.push(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, WARDEN_FLAKY_DIR: dir, FLAKY_MODE: mode };
  delete env.NODE_TEST_CONTEXT; // set by the runner around us: the inner one would report to it, not print
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'scripts/test.mjs'), 'fixtures/flaky-once'], { cwd: root, env }, (e, stdout) => {
      resolve({ code: e ? Number(e.code) : 0, lines: stdout.trimEnd().split('\n') });
    });
  });
}

test('a file that fails, then passes alone, is counted as flaky by name, not as passes', async () => {
  const r = await runTests('once');
  assert.equal(r.code, 0, r.lines.join('\n'));
  assert.ok(r.lines.includes('retrying alone: test/fixtures/flaky-once.test.ts'), r.lines.join('\n'));
  assert.deepEqual(r.lines.slice(-2), ['1 passed, 0 failed, 1 flaky (test/fixtures/flaky-once.test.ts)', '1 passed, 0 failed']);
});

test('a file that fails again when alone stays failed', async () => {
  const r = await runTests('always');
  assert.equal(r.code, 1);
  assert.equal(r.lines.at(-1), '1 passed, 1 failed');
  assert.ok(!r.lines.some((l) => l.startsWith('flaky:') || / flaky \(/.test(l)), r.lines.join('\n'));
});
