// Stock MySQL clients through the gateway against the machine's MariaDB: Debian's `mysql`
// (only -h -P -u -p, with and without TLS), mysqldump, and the mysql2 driver (text,
// prepared, multi-statements). What comes back is masked; a blocked statement is refused in
// place and the session goes on; a held statement runs once approved; the record holds it all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { spawn } from 'node:child_process';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { commandsOf, eventsOf, resultsOf } from '../helpers/records.ts';

let t: TestGateway;
const db = `warden_mycli_${process.pid}`;
const direct = (sql: string) => run('mysql', ['-h', '127.0.0.1', '-uroot', '-N', '-B', '-e', sql]);
const count = async (table: string) => Number((await direct(`SELECT count(*) FROM ${db}.${table}`)).stdout.trim());
const cli = (token: string, input: string, extra: string[] = []) => run('mysql', ['-h', '127.0.0.1', '-P', String(t.mysqlPort), '-u', 'shop', `-p${token}`, ...extra], { input });

before(async () => {
  const r = await direct(
    `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db};` +
      `CREATE TABLE ${db}.people (id int primary key, name varchar(50), email varchar(100), ssn char(11), dob date, notes text, created datetime(3), score decimal(5,2));` +
      `INSERT INTO ${db}.people VALUES (1,'Ann Lee','ann@example.com','123-45-6789','1980-02-03','call +1 415 555 0100','2024-01-02 03:04:05.678',9.5),(2,'Bob','bob@example.org','987-65-4321','1990-12-31',NULL,NULL,NULL);` +
      `CREATE TABLE ${db}.orders (id int); INSERT INTO ${db}.orders VALUES (1),(2),(3);`,
  );
  assert.equal(r.code, 0, r.stderr);
  t = await startTestGateway({
    connections: [localMysql('shop', { database: db })],
    rules: [
      { name: 'no-drop', match: { kinds: ['drop', 'truncate'] }, action: 'block', message: 'dropping tables is not allowed here' },
      { name: 'all-rows', match: { kinds: ['delete'], noWhere: true }, action: 'review', review: { groups: ['dba'] } },
    ],
  });
});
after(async () => {
  await t?.close();
  await direct(`DROP DATABASE IF EXISTS ${db}`);
});

test('the mysql client with no flags but -h -P -u -p: TLS by default, masked rows', async () => {
  const token = await t.token(['dev'], 'cli-tls');
  const r = await cli(token, 'SELECT id, name, email, ssn, dob FROM people ORDER BY id;\n');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1\tAnn Lee\t\[EMAIL\]\t\[SSN\]\tNULL/);
  assert.doesNotMatch(r.stdout, /ann@example\.com|123-45-6789|1980-02-03/);
  const start = (await eventsOf(t, 'cli-tls')).find((e) => e.type === 'session.start')!;
  assert.equal((start.data as { protocol: string }).protocol, 'mysql');
  assert.equal((start.data as { attributes: Record<string, string> }).attributes.tls, 'true');
});

test('without TLS the client sends the token under the gateway\'s RSA key; with --ssl over TLS', async () => {
  const plain = await t.token(['dev'], 'cli-plain');
  let r = await cli(plain, 'SELECT email FROM people WHERE id = 2;\n', ['--skip-ssl']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[EMAIL\]/);
  const start = (await eventsOf(t, 'cli-plain')).find((e) => e.type === 'session.start')!;
  assert.equal((start.data as { attributes: Record<string, string> }).attributes.tls, 'false');
  r = await cli(await t.token(['dev'], 'cli-ssl'), 'SELECT 1;\n', ['--ssl']);
  assert.equal(r.code, 0, r.stderr);
  r = await cli('wdn_not-a-token', 'SELECT 1;\n', ['--skip-ssl']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ERROR 1045 .*warden: access denied/);
});

test('mysqldump through the gateway: the dump is masked', async () => {
  const token = await t.token(['dev'], 'dumper');
  const r = await run('mysqldump', ['-h', '127.0.0.1', '-P', String(t.mysqlPort), '-u', 'shop', `-p${token}`, db, 'people']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /INSERT INTO `people` VALUES/);
  assert.match(r.stdout, /'\[EMAIL\]'/);
  assert.doesNotMatch(r.stdout, /ann@example\.com|bob@example\.org|123-45-6789/);
});

test('mysql2: text and prepared results are masked (typed columns by rule too)', async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'shop', password: await t.token(['dev'], 'driver') });
  try {
    const [text] = await c.query('SELECT id, email, ssn, dob, notes, score FROM people ORDER BY id');
    const rows = text as Record<string, unknown>[];
    assert.equal(rows[0]!.id, 1);
    assert.equal(rows[0]!.email, '[EMAIL]');
    assert.equal(rows[0]!.ssn, '[SSN]');
    assert.equal(rows[0]!.dob, null, 'a date of birth under the built-in rule: NULL, still a valid date column');
    assert.equal(rows[0]!.notes, 'call [PHONE]');
    assert.equal(rows[0]!.score, '9.50');
    const [bin] = await c.execute('SELECT id, email, dob, created, score FROM people WHERE id = ?', [1]);
    const b = (bin as Record<string, unknown>[])[0]!;
    assert.equal(b.id, 1);
    assert.equal(b.email, '[EMAIL]');
    assert.equal(b.dob, null);
    assert.ok(b.created instanceof Date, 'binary datetime read as a date');
    assert.equal(b.score, '9.50');
  } finally {
    await c.end();
  }
  const results = await resultsOf(t, 'driver');
  const prepared = results.find((e) => JSON.stringify(e.data.rows ?? []).includes('2024-01-02'))!;
  assert.deepEqual((prepared.data.rows as unknown[][])[0]!.slice(0, 3), ['1', '[EMAIL]', null], 'the record holds the masked binary row');
  assert.ok((prepared.data.maskedColumns as string[]).includes('email'));
  assert.ok(!JSON.stringify(results).includes('ann@example.com'), 'no original in the record');
});

test('multi-statements and multiple result sets', async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'shop', password: await t.token(['dev'], 'multi'), multipleStatements: true });
  try {
    const [sets] = await c.query('SELECT 1 AS a; SELECT email FROM people WHERE id = 1; UPDATE orders SET id = id WHERE id = 1');
    const all = sets as unknown[];
    assert.equal(all.length, 3);
    assert.deepEqual(all[0], [{ a: 1 }]);
    assert.deepEqual(all[1], [{ email: '[EMAIL]' }]);
    assert.equal((all[2] as { affectedRows: number }).affectedRows, 1);
    await assert.rejects(c.query('SELECT 1; DROP TABLE orders'), /warden: blocked: dropping tables is not allowed here/);
  } finally {
    await c.end();
  }
  assert.equal(await count('orders'), 3);
  const cmds = await commandsOf(t, 'multi');
  assert.equal(cmds.filter((e) => e.data.decision === 'allow').length, 1);
  const results = (await resultsOf(t, 'multi')).filter((e) => e.data.commandId === cmds[0]!.data.commandId);
  assert.equal(results.length, 3, 'one result event per result of the command');
});

test('a blocked statement is refused in place; the session goes on', async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'shop', password: await t.token(['dev'], 'blocked') });
  try {
    await assert.rejects(c.query('DROP TABLE people'), (e: Error & { errno?: number }) => e.errno === 1142 && /warden: blocked: dropping tables/.test(e.message));
    await assert.rejects(c.execute('TRUNCATE TABLE orders'), /warden: blocked/);
    const [rows] = await c.query('SELECT count(*) AS n FROM people');
    assert.deepEqual(rows, [{ n: 2 }]);
  } finally {
    await c.end();
  }
  assert.equal(await count('people'), 2);
  const decisions = (await commandsOf(t, 'blocked')).map((e) => e.data.decision);
  assert.deepEqual(decisions, ['block', 'block', 'allow']);
});

test('a held statement runs exactly once after an approver approves it', async () => {
  const alice = await t.token(['dev'], 'alice');
  const bob = await t.token(['dev', 'dba'], 'bob');
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'shop', password: alice });
  try {
    const held = await c.query('DELETE FROM orders').then(() => null, (e: Error) => e.message);
    assert.match(held ?? '', /review (r[0-9a-f]{12})/);
    const id = /review (r[0-9a-f]{12})/.exec(held!)![1]!;
    assert.equal(await count('orders'), 3, 'held, not run');
    const res = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 200);
    const [ok] = await c.query('DELETE FROM orders');
    assert.equal((ok as { affectedRows: number }).affectedRows, 3);
    await assert.rejects(c.query('DELETE FROM orders'), /review/, 'an approval runs once');
  } finally {
    await c.end();
  }
  await direct(`INSERT INTO ${db}.orders VALUES (1),(2),(3)`);
});

test('the record: the session, each command before it ran, each result masked', async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'shop', password: await t.token(['dev'], 'recorded') });
  try {
    await c.query('SELECT name, email FROM people WHERE id = 1');
  } finally {
    await c.end();
  }
  const sessions = await t.gw.services.listSessions({ limit: 1000 });
  const s = sessions.find((x) => x.identityName === 'recorded')!;
  assert.equal(s.protocol, 'mysql');
  assert.equal(s.connection, 'shop');
  const events = await eventsOf(t, 'recorded');
  const cmd = events.find((e) => e.type === 'command' && e.data.text === 'SELECT name, email FROM people WHERE id = 1')!;
  const result = events.find((e) => e.type === 'result' && e.data.commandId === cmd.data.commandId)!;
  assert.ok(cmd.seq < result.seq);
  assert.deepEqual(result.data.rows, [['Ann Lee', '[EMAIL]']]);
  assert.deepEqual(result.data.columns, [{ name: 'name', type: 253 }, { name: 'email', type: 253 }]);
  assert.equal(events[events.length - 1]!.type, 'session.end');
});

test('the target ending an idle session: the mysql client reads why as the answer to its next command', async () => {
  const token = await t.token(['dev'], 'cli-gone');
  // -n: unbuffered, so the id shows before stdin ends
  const c = spawn('mysql', ['-h', '127.0.0.1', '-P', String(t.mysqlPort), '-u', 'shop', `-p${token}`, '-N', '-B', '-n', '--skip-ssl'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise((resolve) => c.on('exit', resolve));
  c.stdin.write('SELECT CONNECTION_ID();\n');
  for (let i = 0; i < 200 && !/^\d+\n/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const upstreamId = Number(out.trim());
  assert.ok(upstreamId > 0, `the session's id on the target: ${out} ${err}`);
  const k = await direct(`KILL CONNECTION ${upstreamId}`);
  assert.equal(k.code, 0, k.stderr);
  // the next command only once the gateway has seen the session end (else it is in flight)
  const ended = async () => (await eventsOf(t, 'cli-gone')).find((e) => e.type === 'session.end');
  for (let i = 0; i < 200 && !(await ended()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(String((await ended())?.data.reason), /target closed/);
  c.stdin.end('SELECT 2;\n');
  await exited;
  // a server error of the connection class, in words (an ERR with a client-side code, 2006,
  // is "Received malformed packet" to this client; a bare close is "Lost connection")
  assert.match(err, /ERROR 1053 \(08S01\).*warden: the target closed the connection/);
});
