// `warden audit export`, `audit public-key` and `audit verify --export` as a user runs
// them: the export taken where the store is, then checked elsewhere with nothing but the
// file and the pinned public key (no config, no data dir, no store).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.ts';
import { openAuditLog } from '../../src/audit/index.ts';
import { run } from '../helpers/clients.ts';

const BIN = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
const dir = mkdtempSync(join(tmpdir(), 'warden-cli-audit-'));
const away = join(dir, 'elsewhere');
const cfg = join(dir, 'warden.yaml');
const warden = (args: string[], cwd = dir) => run(process.execPath, [BIN, ...args], { timeoutMs: 120_000, cwd });

before(async () => {
  mkdirSync(away);
  writeFileSync(cfg, `gateway:\n  dataDir: ${join(dir, 'data')}\n`);
  const store = await openStore({ store: 'sqlite', dataDir: join(dir, 'data') });
  const log = await openAuditLog(store, { dataDir: join(dir, 'data'), signEveryMs: 0 }); // a head per group: 5 in all
  for (let i = 0; i < 4; i++) {
    await Promise.all(Array.from({ length: 5 }, (_, k) => log.append({ type: 'command', sessionId: 's', actor: 'alice', data: { text: `SELECT * FROM customers -- ${i}.${k}` } })));
  }
  await log.close();
  await store.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('an export verifies offline against the pinned key alone; without a key it refuses; an edited event is named', async () => {
  const file = join(away, 'audit.jsonl');
  const exp = await warden(['audit', 'export', '--config', cfg, file]);
  assert.equal(exp.code, 0, exp.stderr);
  assert.match(exp.stderr, /^exported 20 events, 5 signed heads to /);
  const pub = await warden(['audit', 'public-key', '--config', cfg]);
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  const pubFile = join(away, 'audit-public.pem');
  writeFileSync(pubFile, pub.stdout);

  const good = await warden(['audit', 'verify', '--export', file, '--public-key', pubFile], away);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /^audit log intact: 20 events \(last seq 20\), 5 signed heads \(newest #5, close, .*key [0-9a-f]{16} \(pinned\)/);

  const noKey = await warden(['audit', 'verify', '--export', file], away);
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /an export carries no key to trust: give one with --public-key/);

  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes('"seq":7,'));
  lines[i] = lines[i]!.replace('customers', 'customerz');
  writeFileSync(file, lines.join('\n'));
  const bad = await warden(['audit', 'verify', '--export', file, '--public-key', pub.stdout, '--json'], away);
  assert.equal(bad.code, 1);
  const r = JSON.parse(bad.stdout) as { ok: boolean; brokenSeq: number; kind: string; problem: string };
  assert.deepEqual([r.ok, r.brokenSeq, r.kind], [false, 7, 'changed'], r.problem);
});

test('verify reports events after the last signed head of a running gateway as such, not as tampering', async () => {
  const data = join(dir, 'running');
  const runningCfg = join(dir, 'running.yaml');
  writeFileSync(runningCfg, `gateway:\n  dataDir: ${data}\n  audit:\n    signEvery: 10s\n`);
  const store = await openStore({ store: 'sqlite', dataDir: data });
  // a window no run outlasts, so the idle timer does not sign the tail during the test
  const log = await openAuditLog(store, { dataDir: data, signEveryMs: 600_000 });
  try {
    for (let i = 0; i < 4; i++) await log.append({ type: 'command', sessionId: 's', actor: 'alice', data: { i } });
    const v = await warden(['audit', 'verify', '--config', runningCfg]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^audit log intact: 4 events \(last seq 4\), 1 signed heads .*; 3 events after the last signed head/);
  } finally {
    await log.close();
    await store.close();
  }
  const after = await warden(['audit', 'verify', '--config', runningCfg]);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /^audit log intact: 4 events \(last seq 4\), 2 signed heads \(newest #2, close/);
  assert.doesNotMatch(after.stdout, /after the last signed head/);
});
