// Code defined in the database runs out of the rules' sight: a function whose body deletes
// rows, a procedure behind CALL, a database-defined function that shadows a built-in name,
// one created in the same transaction that calls it. Each is opaque (the connection's
// onUnknown: review by default) unless a rule names it; built-ins stay allowed. Fast-path
// calls (the protocol's FunctionCall) are judged as the call they make, their result masked
// and recorded, and psql's \lo_import / \lo_export keep working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql, run } from '../helpers/clients.ts';
import { errorsOf, rawConnect } from '../helpers/raw-pg.ts';
import { commandsOf, resultsOf } from '../helpers/records.ts';
import type { BackendMessage } from '../../src/protocols/postgres/messages.ts';

let t: TestGateway;
// A database of its own: functions defined here (and the shadow of a built-in) must not
// change what other test files' gateways see.
const db = `warden_fn_${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'warden-fn-'));
const direct = (sql: string, database = db) => run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', database, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
const count = async () => Number((await direct('SELECT count(*) FROM victims')).stdout.trim());
const oidOf = async (signature: string) => Number((await direct(`SELECT '${signature}'::regprocedure::oid`)).stdout.trim());

before(async () => {
  await direct(`DROP DATABASE IF EXISTS ${db}`, 'postgres');
  await direct(`CREATE DATABASE ${db}`, 'postgres');
  await direct(
    `CREATE TABLE victims (id int, email text); INSERT INTO victims SELECT g, 'v' || g || '@example.com' FROM generate_series(1, 3) g;
     CREATE FUNCTION wipe() RETURNS bigint LANGUAGE sql AS $$ WITH d AS (DELETE FROM victims RETURNING 1) SELECT count(*) FROM d $$;
     CREATE FUNCTION archive_old() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
     CREATE PROCEDURE purge() LANGUAGE sql AS $$ DELETE FROM victims $$;
     CREATE FUNCTION length(int) RETURNS bigint LANGUAGE sql AS $$ WITH d AS (DELETE FROM victims RETURNING 1) SELECT count(*) FROM d $$;`,
  );
  writeFileSync(join(dir, 'secret.txt'), 'root password is hunter2\n');
  t = await startTestGateway({
    connections: [localPostgres('fn', { database: db })],
    rules: [
      { name: 'vetted', match: { functions: ['public.archive_old'] }, action: 'allow' },
      { name: 'no-server-files', match: { functions: ['pg_read_file', 'pg_read_binary_file', 'lo_import', 'lo_export'] }, action: 'block' },
    ],
  });
});
after(async () => {
  await t.close();
  await direct(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, 'postgres');
  rmSync(dir, { recursive: true, force: true });
});

async function client(name: string) {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'fn', password: await t.token(['dev'], name), database: 'fn' });
  await c.connect();
  return c;
}

test('a function defined in the database is opaque: held for review, the rows stay', async () => {
  const c = await client('fn-user');
  try {
    await assert.rejects(c.query('SELECT wipe()'), /warden: calls wipe\(\), defined in the database.*review/s);
    await assert.rejects(c.query('CALL purge()'), /warden: .*review/s);
    // built-ins stay allowed, and so does a function a rule names
    assert.equal((await c.query('SELECT lower($1::text) AS l, count(*) AS n FROM victims', ['X'])).rows[0].l, 'x');
    assert.equal((await c.query('SELECT archive_old() AS a')).rows[0].a, 1);
  } finally {
    await c.end();
  }
  assert.equal(await count(), 3);
  const cmds = await commandsOf(t, 'fn-user');
  assert.equal(cmds.find((e) => String(e.data.text).includes('wipe'))!.data.decision, 'review');
});

test('a database-defined function that shadows a built-in name (by its argument types) is not the built-in', async () => {
  const c = await client('fn-shadow');
  try {
    await assert.rejects(c.query('SELECT length(5)'), /warden: .*review/s);
  } finally {
    await c.end();
  }
  assert.equal(await count(), 3);
});

test('a function created in the open transaction is not taken for the built-in it shadows', async () => {
  const c = await client('fn-fresh');
  try {
    await c.query('BEGIN');
    await c.query('CREATE FUNCTION upper(int) RETURNS bigint LANGUAGE sql AS $$ WITH d AS (DELETE FROM victims RETURNING 1) SELECT count(*) FROM d $$');
    await assert.rejects(c.query('SELECT upper(7)'), /warden: .*review/s);
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
  assert.equal(await count(), 3);
});

const call = (oid: number, args: (string | null)[], resultFormat = 0) => ({
  type: 'FunctionCall' as const,
  oid,
  argFormats: [],
  args: args.map((a) => (a === null ? null : Buffer.from(a))),
  resultFormat,
});
const valueOf = (answers: BackendMessage[]) => {
  const v = answers.find((m) => m.type === 'FunctionCallResponse');
  return v && v.type === 'FunctionCallResponse' ? v.value?.toString('utf8') ?? null : undefined;
};

test('fast-path calls are judged as the call they make', async () => {
  const c = await rawConnect(t.pgPort, 'fn', await t.token(['dev'], 'fn-fastpath'));
  try {
    // query_to_xml runs SQL given as text: opaque (review), its table never read
    let a = await c.roundTrip(call(await oidOf('query_to_xml(text,boolean,boolean,text)'), ['SELECT email FROM victims', 'true', 'false', '']));
    assert.match(errorsOf(a)[0] ?? '', /warden: .*review/s);
    assert.equal(valueOf(a), undefined);
    // a rule on pg_read_file blocks its fast-path call; the file is not read
    a = await c.roundTrip(call(await oidOf('pg_read_file(text)'), [join(dir, 'secret.txt')]));
    assert.match(errorsOf(a)[0] ?? '', /warden: blocked/);
    assert.equal(valueOf(a), undefined);
    // a database-defined function by OID: opaque
    a = await c.roundTrip(call(await oidOf('wipe()'), []));
    assert.match(errorsOf(a)[0] ?? '', /warden: .*review/s);
    // a built-in: runs, and its result is masked like a column of its type
    a = await c.roundTrip(call(await oidOf('textcat(text,text)'), ['write to ', 'ada@example.com']));
    assert.deepEqual(errorsOf(a), []);
    assert.doesNotMatch(valueOf(a) ?? '', /example\.com/i);
    assert.match(valueOf(a) ?? '', /^write to /);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
  const cmds = await commandsOf(t, 'fn-fastpath');
  assert.ok(cmds.some((e) => e.data.text === 'SELECT "pg_catalog"."query_to_xml"($1, $2, $3, $4)' && e.data.decision === 'review'));
  assert.ok(cmds.some((e) => String(e.data.text).includes('"pg_read_file"') && e.data.decision === 'block' && e.data.rule === 'no-server-files'));
  const results = await resultsOf(t, 'fn-fastpath');
  const cat = results.find((r) => r.data.tag === 'FUNCTION CALL')!;
  assert.ok(cat, 'the fast-path result is recorded');
  assert.match(JSON.stringify(cat.data.rows), /write to /);
  assert.doesNotMatch(JSON.stringify(cat.data.rows), /example\.com/i);
  assert.deepEqual(cat.data.maskedColumns, ['pg_catalog.textcat']);
});

test('psql \\lo_import and \\lo_export work under rules that block the server-side lo_import/lo_export', async () => {
  const token = await t.token(['dev'], 'fn-lo');
  const src = join(dir, 'plain.txt');
  const back = join(dir, 'back.txt');
  const content = 'large objects travel through fast-path calls\n'.repeat(200);
  writeFileSync(src, content);
  const imported = await psql(t.pgPort, 'fn', token, ['-c', `\\lo_import ${src}`]);
  assert.equal(imported.code, 0, imported.stderr);
  const oid = /lo_import (\d+)/.exec(imported.stdout)?.[1];
  assert.ok(oid, imported.stdout);
  const exported = await psql(t.pgPort, 'fn', token, ['-c', `\\lo_export ${oid} ${back}`]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(readFileSync(back, 'utf8'), content);
  // the server-side functions that read and write server files stay blocked
  const serverSide = await psql(t.pgPort, 'fn', token, ['-c', `SELECT lo_import('${join(dir, 'secret.txt')}')`]);
  assert.match(serverSide.stderr, /warden: blocked/);
  await psql(t.pgPort, 'fn', token, ['-c', `\\lo_unlink ${oid}`]);
  const cmds = await commandsOf(t, 'fn-lo');
  assert.ok(cmds.some((e) => e.data.via === 'function-call' && String(e.data.text).includes('"lowrite"')));
});
