import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, ConfigError } from '../../src/config/load.ts';
import type { PostgresConnectionConfig } from '../../src/config/schema.ts';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('defaults describe the embedded single-node gateway', () => {
  const c = parseConfig({});
  assert.equal(c.gateway.store, 'sqlite');
  assert.equal(c.gateway.listen.http, '127.0.0.1:8009');
  assert.equal(c.gateway.listen.postgres, '127.0.0.1:15432');
  assert.equal(c.gateway.recording.mode, 'strict');
  assert.equal(c.gateway.recording.maxRows, 1000);
  assert.ok(c.gateway.dataDir.endsWith('warden-data'));
});

test('every error names its key path and reason', () => {
  const p = problemsOf(() =>
    parseConfig({
      gateway: { listen: { http: 'nope' }, recording: { mode: 'fast' }, bogus: 1 },
      connections: [{ name: 'db', type: 'postgres', port: 'x' }, { name: 'x', type: 'oracle' }],
    }),
  );
  const joined = p.join('\n');
  assert.match(joined, /gateway\.listen\.http: expected host:port.*\(got "nope"\)/);
  assert.match(joined, /gateway\.recording\.mode: .*"strict"\|"async"/);
  assert.match(joined, /gateway: Unrecognized key: "bogus"/);
  assert.match(joined, /connections\.0\.port: .*expected number/);
  assert.match(joined, /connections\.1\.type/);
});

test('duplicate connection names are refused', () => {
  const p = problemsOf(() => parseConfig({ connections: [{ name: 'a', type: 'postgres' }, { name: 'a', type: 'postgres' }] }));
  assert.deepEqual(p, ['connections.1.name: duplicate connection name "a" (got "a")']);
});

test('${env:} and ${file:} references resolve; missing ones name the key; secrets are not echoed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cfg-'));
  writeFileSync(join(dir, 'pw.txt'), 's3cret-from-file\n');
  writeFileSync(
    join(dir, 'warden.yaml'),
    ['connections:', '  - name: app', '    type: postgres', '    password: ${file:pw.txt}', '    user: ${env:APP_USER}', ''].join('\n'),
  );
  const { config } = loadConfig(join(dir, 'warden.yaml'), { APP_USER: 'app' });
  const conn = config.connections[0] as PostgresConnectionConfig;
  assert.equal(conn.password, 's3cret-from-file');
  assert.equal(conn.user, 'app');

  const p = problemsOf(() => parseConfig({ connections: [{ name: 'a', type: 'postgres', password: '${env:NOPE_NOT_SET}' }] }, 'x', dir, {}));
  assert.deepEqual(p, ['connections.0.password: environment variable NOPE_NOT_SET is not set']);
  const q = problemsOf(() => parseConfig({ connections: [{ name: 'a', type: 'postgres', password: 12345 }] }, 'x', dir, {}));
  assert.equal(q.length, 1);
  assert.doesNotMatch(q[0]!, /12345/);
});

test('YAML syntax errors and unreadable files are refused with the file named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cfg-'));
  writeFileSync(join(dir, 'bad.yaml'), 'gateway: [unclosed\n');
  assert.throws(() => loadConfig(join(dir, 'bad.yaml')), (e: unknown) => e instanceof ConfigError && /bad\.yaml/.test(e.message) && /YAML/.test(e.message));
  assert.throws(() => loadConfig(join(dir, 'missing.yaml')), /ENOENT/);
});

test('gateway.audit: defaults, paths relative to the config file, and errors by key path', () => {
  const d = parseConfig({});
  assert.deepEqual(d.gateway.audit, { headInterval: 60_000, signEvery: 250, sinks: [] });
  const c = parseConfig({ gateway: { audit: { headInterval: '5m', publicKey: 'keys/audit.pem', sinks: [{ dir: 'archive' }, { url: 'https://audit.example.com/heads' }] } } }, '(test)', '/etc/warden');
  assert.equal(c.gateway.audit.headInterval, 300_000);
  assert.equal(c.gateway.audit.publicKey, '/etc/warden/keys/audit.pem');
  assert.deepEqual(c.gateway.audit.sinks, [{ dir: '/etc/warden/archive' }, { url: 'https://audit.example.com/heads', headers: {} }]);
  // An old config's checkpoint spacing still loads (it no longer means anything).
  assert.equal(parseConfig({ gateway: { recording: { checkpointEvery: 1000 } } }).gateway.recording.checkpointEvery, 1000);

  const p = problemsOf(() => parseConfig({ gateway: { audit: { headInterval: '100ms', sinks: [{ url: 'ftp://x.example/' }, { dir: '' }, { path: '/x' }] } } }));
  assert.ok(p.some((x) => x.startsWith('gateway.audit.headInterval: at least 1s')), p.join('\n'));
  for (const i of [0, 1, 2]) assert.ok(p.some((x) => x.startsWith(`gateway.audit.sinks.${i}`)), p.join('\n'));
  assert.equal(parseConfig({ gateway: { audit: { signEvery: '1s' } } }).gateway.audit.signEvery, 1000);
  assert.equal(parseConfig({ gateway: { audit: { signEvery: '0' } } }).gateway.audit.signEvery, 0);
  assert.equal(parseConfig({ gateway: { audit: { signEvery: 0 } } }).gateway.audit.signEvery, 0);
  for (const [bad, why] of [['20s', 'at most 10s'], ['soon', 'invalid duration']] as const) {
    const q = problemsOf(() => parseConfig({ gateway: { audit: { signEvery: bad } } }));
    assert.ok(q.some((x) => x.startsWith(`gateway.audit.signEvery: ${why}`)), q.join('\n'));
  }
});
