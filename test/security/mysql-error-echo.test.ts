// The MySQL side of masking-error-echo.test.ts: a strict-mode conversion that fails quotes
// the value (`Truncated incorrect DOUBLE value: '...'`, `Incorrect integer value: '...' for
// column ...`) and a duplicate key lists it (`Duplicate entry '...' for key ...`), so a
// caller could read a masked column one error at a time. Run with mysql2 against the real
// MariaDB through a gateway; asserted on the error the client got and on the whole record.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { eventsOf } from '../helpers/records.ts';

let t: TestGateway;
let c: mysql.Connection;
const db = `warden_myecho_${process.pid}`;
const SECRETS = ['QX7-ALPHA-0042', 'ZEBRA-TANGO-99'];
const direct = (sql: string) => run('mysql', ['-h', '127.0.0.1', '-uroot', '-N', '-B', '-e', sql]);

before(async () => {
  const r = await direct(
    `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db};` +
      `CREATE TABLE ${db}.vault (id int primary key, code varchar(40) UNIQUE);` +
      `INSERT INTO ${db}.vault VALUES (1, '${SECRETS[0]}'), (2, '${SECRETS[1]}');` +
      `CREATE TABLE ${db}.nums (n int);`,
  );
  assert.equal(r.code, 0, r.stderr);
  t = await startTestGateway({ connections: [localMysql('echo', { database: db, masking: { columns: [{ match: 'vault.code' }] } })] });
  c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'echo', password: await t.token(['dev'], 'my-echo-attacker'), database: db });
  await c.query("SET SESSION sql_mode = 'STRICT_ALL_TABLES'");
});
after(async () => {
  await c?.end();
  await t?.close();
  await direct(`DROP DATABASE IF EXISTS ${db}`);
});

function assertNoSecret(what: unknown, context: string): void {
  const text = JSON.stringify(what);
  for (const s of SECRETS) assert.ok(!text.includes(s), `${context}: "${s}" came out in ${text}`);
}

async function attack(sql: string, errno: number): Promise<string> {
  const e = await c.query(sql).then(
    () => assert.fail(`${sql}: no error`),
    (err: { errno: number; message: string }) => err,
  );
  assert.equal(e.errno, errno, `${sql}: ${e.message}`);
  assertNoSecret(e.message, sql);
  assertNoSecret(await eventsOf(t, 'my-echo-attacker'), `${sql} (record)`);
  return e.message;
}

test('a duplicate key does not list a masked value; the key is named', async () => {
  const m = await attack('INSERT INTO vault SELECT id + 10, code FROM vault', 1062);
  assert.match(m, /^Duplicate entry '\[REDACTED\]' for key '[^']*code[^']*'$/);
});

test('a failed conversion does not quote a masked value', async () => {
  const m = await attack('INSERT INTO nums SELECT code FROM vault WHERE id = 1', 1366);
  assert.match(m, /^Incorrect integer value: '\[REDACTED\]' for column .* at row 1$/);
  assert.equal(await attack('INSERT INTO nums SELECT code + 0 FROM vault WHERE id = 2', 1292), "Truncated incorrect DOUBLE value: '[REDACTED]'");
  assert.equal(await attack("INSERT INTO nums SELECT STR_TO_DATE(code, '%Y') FROM vault WHERE id = 1", 1411), "Incorrect datetime value: '[REDACTED]' for function str_to_date");
});

test('an error without a value keeps its message', async () => {
  const e = await c.query('SELECT * FROM no_such_table').catch((err: { message: string }) => err);
  assert.match((e as { message: string }).message, /no_such_table.* doesn't exist/);
});
