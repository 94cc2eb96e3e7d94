// The gateway authenticates to targets with credentials only it holds: SCRAM-SHA-256,
// md5 and cleartext against private clusters that force each method, and TLS to the
// target with certificate verification. The caller never sees the password.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { psql } from '../helpers/clients.ts';

const clusters: Record<string, PgCluster> = {};
let t: TestGateway;
let token: string;
const PASSWORD = 'S3cret-upstream-passw0rd!';

before(async () => {
  const [scram, md5, password, tls] = await Promise.all([
    startPgCluster({ auth: 'scram-sha-256', users: [{ name: 'app', password: PASSWORD }] }),
    startPgCluster({ auth: 'md5', users: [{ name: 'app', password: PASSWORD }] }),
    startPgCluster({ auth: 'password', users: [{ name: 'app', password: PASSWORD }] }),
    startPgCluster({ auth: 'scram-sha-256', ssl: 'require', users: [{ name: 'app', password: PASSWORD }] }),
  ]);
  Object.assign(clusters, { scram, md5, password, tls });
  const otherCa = (await makeCertificate({ commonName: 'someone-else' })).ca;
  const conn = (name: string, c: PgCluster, extra: Record<string, unknown> = {}) => ({
    name, type: 'postgres', host: c.host, port: c.port, database: 'postgres', user: 'app', password: PASSWORD, tls: false, access: { groups: ['dev'] }, ...extra,
  });
  t = await startTestGateway({
    connections: [
      // md5 and cleartext over plain TCP only because the connection says so (see upstream-auth-attacks).
      conn('scram', scram), conn('md5', md5, { allowInsecureAuth: true }), conn('cleartext', password, { allowInsecureAuth: true }),
      conn('tls-verified', tls, { host: 'localhost', tls: { mode: 'verify-full', ca: tls.caCert } }),
      conn('tls-wrong-ca', tls, { tls: { mode: 'verify-full', ca: otherCa } }),
      conn('plain-to-tls-only', tls, { tls: false }),
      conn('bad-password', scram, { password: 'wrong' }),
    ],
  });
  token = await t.token(['dev'], 'auth-tester');
});
after(async () => {
  await t?.close();
  await Promise.all(Object.values(clusters).map((c) => c.close()));
});

for (const name of ['scram', 'md5', 'cleartext']) {
  test(`${name}: the gateway logs in to the target with its own credential`, async () => {
    const r = await psql(t.pgPort, name, token, ['-A', '-t', '-c', 'SELECT current_user']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'app');
  });
}

test('TLS to the target with verify-full against its CA', async () => {
  const r = await psql(t.pgPort, 'tls-verified', token, ['-A', '-t', '-c', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 't');
});

test('a target certificate that does not verify, or a target that demands TLS, is a clear error', async () => {
  const wrong = await psql(t.pgPort, 'tls-wrong-ca', token, ['-c', 'SELECT 1']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /cannot reach connection "tls-wrong-ca": TLS to the target failed/);
  const plain = await psql(t.pgPort, 'plain-to-tls-only', token, ['-c', 'SELECT 1']);
  assert.match(plain.stderr, /cannot reach connection "plain-to-tls-only".*no pg_hba\.conf entry/);
});

test('a wrong target password is reported without revealing any credential', async () => {
  const r = await psql(t.pgPort, 'bad-password', token, ['-c', 'SELECT 1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /password authentication failed for user "app"/);
  assert.doesNotMatch(r.stderr, /wrong|S3cret/);
});

test('the target password never appears in API output, the audit log or the data dir', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'scram', password: token, database: 'x' });
  await c.connect();
  await c.query('SELECT 1');
  await c.end();
  const admin = { authorization: `Bearer ${t.adminToken}` };
  const bodies = await Promise.all(['/api/v1/connections', '/api/v1/sessions', '/api/v1/openapi.json', '/metrics', '/healthz'].map(async (p) => (await fetch(t.httpUrl + p, { headers: admin })).text()));
  const sessions = JSON.parse(bodies[1]!) as { id: string }[];
  for (const s of sessions) bodies.push(await (await fetch(`${t.httpUrl}/api/v1/sessions/${s.id}`, { headers: admin })).text());
  for (const b of bodies) assert.ok(!b.includes(PASSWORD), 'password in API output');
  await t.gw.services.audit.flush();
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
  for (const f of walk(t.dataDir)) assert.ok(!readFileSync(f).includes(PASSWORD), `password in ${f}`);
});
