// `warden exec <connection> -c "<command>"`: one command through the gateway's pipeline as
// the caller, over POST /api/v1/exec (run in-process on the connection's engine, Postgres or
// MySQL). Rules, reviews, masking and recording apply as for psql; the session's record names
// its front door, `exec`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, localPostgres, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';

const BIN = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
const home = mkdtempSync(join(tmpdir(), 'warden-exec-'));
let t: TestGateway;
let token: string;

before(async () => {
  t = await startTestGateway({
    connections: [localPostgres(), localMysql()],
    rules: [
      { name: 'no-drops', match: { kinds: ['drop'] }, action: 'block', message: 'dropping is not allowed here' },
      { name: 'no-where', match: { noWhere: true }, action: 'review', review: { groups: ['approver'] } },
    ],
  });
  token = await t.token(['dev'], 'exec-user');
});
after(async () => {
  await t.close();
  rmSync(home, { recursive: true, force: true });
});

// Never the real user's stored login or environment.
const warden = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BIN, ...args], { env: { XDG_CONFIG_HOME: home, WARDEN_GATEWAY: '', WARDEN_TOKEN: token, ...env }, timeoutMs: 60_000 });

test('a SELECT prints like psql, masked, and is recorded as the caller\'s session', async () => {
  const r = await warden(['exec', 'local', '-c', "SELECT 'ada.lovelace@example.com' AS email, 42 AS n", '--gateway', t.httpUrl]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ email\s+\| n$/);
  assert.match(lines[1]!, /^-+\+-+$/);
  assert.doesNotMatch(r.stdout, /lovelace/);
  assert.match(lines[2]!, /\| 42$/);
  assert.equal(lines[3], '(1 row)');

  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 10 });
  const s = sessions.find((x) => x.identityName === 'exec-user')!;
  assert.ok(s, 'the session is the caller\'s');
  assert.equal(s.protocol, 'exec', 'the record names the real front door');
  const events = (await t.gw.services.getSession(s.id))!.events;
  assert.ok(events.some((e) => e.type === 'command' && /ada\.lovelace/.test(String(e.data.text))));
  assert.doesNotMatch(JSON.stringify(events.filter((e) => e.type === 'result')), /lovelace/);
});

test('--json, and a command without rows prints its tag', async () => {
  const j = await warden(['exec', 'local', '-c', 'SELECT 1 AS one', '--json', '--gateway', t.httpUrl]);
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout) as Record<string, unknown>;
  assert.match(String(out.session), /^[0-9a-f-]{36}$/);
  delete out.session;
  assert.deepEqual(out, { columns: [{ name: 'one', type: 23 }], rows: [['1']], rowCount: 1, truncated: false, command: 'SELECT', maskedColumns: [] });
  const masked = JSON.parse((await warden(['exec', 'local', '-c', "SELECT 'ada@example.com' AS email", '--json', '--gateway', t.httpUrl])).stdout) as { rows: string[][]; maskedColumns: string[] };
  assert.deepEqual(masked.maskedColumns, ['email'], 'which columns the pipeline masked comes as data');
  assert.doesNotMatch(masked.rows[0]![0]!, /ada@/);
  const tag = await warden(['exec', 'local', '-c', 'CREATE TEMP TABLE scratch (x int)', '--gateway', t.httpUrl]);
  assert.equal(tag.code, 0, tag.stderr);
  assert.equal(tag.stdout.trim(), 'CREATE');
});

test('a blocked command exits 1 naming the rule; a held one exits 3 with its review; nothing ran', async () => {
  const blocked = await warden(['exec', 'local', '-c', 'DROP TABLE IF EXISTS nothing_here', '--gateway', t.httpUrl]);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /blocked: .*dropping is not allowed here/);
  const held = await warden(['exec', 'local', '-c', 'DELETE FROM pg_temp.whatever', '--gateway', t.httpUrl]);
  assert.equal(held.code, 3, held.stderr);
  assert.match(held.stderr, /held for review \S+: .*\nnothing ran/);
});

test('errors: the database\'s own (with SQLSTATE), a bad token, an unknown connection, a missing -c', async () => {
  const sql = await warden(['exec', 'local', '-c', 'SELECT * FROM no_such_table', '--gateway', t.httpUrl]);
  assert.equal(sql.code, 1);
  assert.match(sql.stderr, /relation "no_such_table" does not exist\nSQLSTATE 42P01/);
  const bad = await warden(['exec', 'local', '-c', 'SELECT 1', '--gateway', t.httpUrl], { WARDEN_TOKEN: 'wdn_forged' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid or expired token/); // refused at the HTTP door, before the Postgres door
  const unknown = await warden(['exec', 'nope', '-c', 'SELECT 1', '--gateway', t.httpUrl]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no connection named "nope"/);
  const missing = await warden(['exec', 'local', '--gateway', t.httpUrl]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--command/);
});

test('--config: the gateway is the config\'s http listener', async () => {
  const cfg = join(home, 'warden.yaml');
  writeFileSync(cfg, `gateway:\n  listen:\n    http: ${new URL(t.httpUrl).host}\n`);
  const r = await warden(['exec', 'local', '-c', 'SELECT 7 AS seven', '--config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ seven\n-+\n 7\n\(1 row\)/);
});

test('MySQL: the same command line runs on a mysql connection, masked, judged, recorded as exec', async () => {
  const r = await warden(['exec', 'mylocal', '-c', "SELECT 'grace@example.com' AS email, 7 AS n", '--gateway', t.httpUrl]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /grace@/);
  assert.match(r.stdout, /\| 7\n\(1 row\)/);
  // a statement that answers with OK, no rows (it hung the in-process client once)
  const ok = await warden(['exec', 'mylocal', '-c', "SET @warden_probe = 'x'", '--gateway', t.httpUrl]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'OK');
  const blocked = await warden(['exec', 'mylocal', '-c', 'DROP TABLE IF EXISTS nothing_here', '--gateway', t.httpUrl]);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /blocked: .*dropping is not allowed here/);
  const err = await warden(['exec', 'mylocal', '-c', 'SELECT * FROM mysql.no_such_table', '--gateway', t.httpUrl]);
  assert.equal(err.code, 1);
  assert.match(err.stderr, /no_such_table' doesn't exist\nSQLSTATE 42S02/);
  await t.gw.services.audit.flush();
  const s = (await t.gw.services.listSessions({ limit: 50 })).filter((x) => x.identityName === 'exec-user' && x.connection === 'mylocal');
  assert.ok(s.length >= 3 && s.every((x) => x.protocol === 'exec'), JSON.stringify(s));
});
