// psql through the gateway against the machine's Postgres: the native client, unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql, run } from '../helpers/clients.ts';

let t: TestGateway;
let token: string;
const table = `warden_psql_${process.pid}`;

before(async () => {
  t = await startTestGateway({ connections: [localPostgres()] });
  token = await t.token(['dev'], 'psql-user');
});
after(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP TABLE IF EXISTS ${table}`]);
  await t.close();
});

test('simple queries, multi-statement strings, errors and notices pass through', async () => {
  const r = await psql(t.pgPort, 'local', token, ['-A', '-t', '-c', `SELECT 1 AS a, 'x' AS b; SELECT generate_series(1,3)`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1|x\n1\n2\n3');
  const e = await psql(t.pgPort, 'local', token, ['-c', 'SELECT no_such_column']);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /column "no_such_column" does not exist/);
  const n = await psql(t.pgPort, 'local', token, ['-c', 'DROP TABLE IF EXISTS warden_never_existed']);
  assert.equal(n.code, 0, n.stderr);
  assert.match(n.stderr, /NOTICE:\s+table "warden_never_existed" does not exist, skipping/);
});

test('\\d, \\copy in and out, and a transaction', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-copy-'));
  const inFile = join(dir, 'in.csv'), outFile = join(dir, 'out.csv');
  writeFileSync(inFile, Array.from({ length: 500 }, (_, i) => `${i},name ${i}`).join('\n') + '\n');
  const r = await psql(t.pgPort, 'local', token, [
    '-c', `CREATE TABLE ${table} (id int primary key, name text)`,
    '-c', `\\copy ${table} FROM '${inFile}' WITH (FORMAT csv)`,
    '-c', `\\d ${table}`,
    '-c', `\\copy (SELECT * FROM ${table} ORDER BY id) TO '${outFile}' WITH (FORMAT csv)`,
    '-c', `BEGIN; UPDATE ${table} SET name = 'x' WHERE id = 1; ROLLBACK;`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /COPY 500/);
  assert.match(r.stdout, /Table "public\.warden_psql_\d+"/);
  assert.match(r.stdout, /name\s+\|\s+text/);
  assert.equal(readFileSync(outFile, 'utf8'), readFileSync(inFile, 'utf8'));
  const check = await psql(t.pgPort, 'local', token, ['-A', '-t', '-c', `SELECT name FROM ${table} WHERE id = 1`]);
  assert.equal(check.stdout.trim(), 'name 1');
});

test('TLS to the client with the gateway certificate; GSSAPI encryption is refused cleanly', async () => {
  const r = await psql(t.pgPort, 'local', token, ['-A', '-t', '-c', 'SELECT 42'], { sslmode: 'require' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '42');
  const sessions = await t.gw.services.listSessions({ limit: 50 });
  assert.ok(sessions.length > 0);
  const g = await run('psql', [`host=127.0.0.1 port=${t.pgPort} user=local dbname=local gssencmode=prefer sslmode=prefer`, '-X', '-A', '-t', '-c', 'SELECT 7'], { env: { PGPASSWORD: token } });
  assert.equal(g.stdout.trim(), '7', g.stderr);
});

test('wrong token, unknown connection and a caller outside the groups are refused', async () => {
  const bad = await psql(t.pgPort, 'local', 'wdn_not-a-real-token', ['-c', 'SELECT 1']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /password authentication failed/);
  const unknown = await psql(t.pgPort, 'nope', token, ['-c', 'SELECT 1']);
  assert.match(unknown.stderr, /no postgres connection named "nope"/);
  const outsider = await psql(t.pgPort, 'local', await t.token(['sales'], 'outsider'), ['-c', 'SELECT 1']);
  assert.match(outsider.stderr, /outsider \(groups sales\) is not allowed to use connection "local"/);
});
