// Refused commands on the wire: a blocked statement never reaches the target, the
// client gets a real ErrorResponse in the right place (simple and extended protocol),
// and the target's transaction state matches what the client believes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql, run } from '../helpers/clients.ts';

let t: TestGateway;
let token: string;
const table = `warden_guard_${process.pid}`;
const direct = (sql: string) => run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', '-c', sql]);

before(async () => {
  await direct(`CREATE TABLE ${table} (id int); INSERT INTO ${table} VALUES (1), (2)`);
  t = await startTestGateway({
    connections: [localPostgres('guarded', { onUnknown: 'block' })],
    rules: [
      { name: 'no-drop', match: { kinds: ['drop', 'truncate'] }, action: 'block', message: 'dropping is not allowed here' },
      { name: 'no-file-read', match: { functions: ['pg_read_file'] }, action: 'block' },
    ],
  });
  token = await t.token(['dev'], 'guarded-user');
});
after(async () => {
  await t.close();
  await direct(`DROP TABLE IF EXISTS ${table}`);
});

test('simple protocol: the blocked statement of a multi-statement string stops the whole string', async () => {
  const r = await psql(t.pgPort, 'guarded', token, ['-c', `SELECT 1; DROP TABLE ${table}`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /warden: blocked: dropping is not allowed here/);
  assert.equal((await direct(`SELECT count(*) FROM ${table}`)).stdout.trim(), '2');
  const f = await psql(t.pgPort, 'guarded', token, ['-c', `SELECT length(pg_read_file('/etc/passwd'))`]);
  assert.match(f.stderr, /warden: blocked/);
});

test('extended protocol: a blocked prepared statement errors in place; the session goes on', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'guarded', password: token, database: 'x' });
  await c.connect();
  try {
    await assert.rejects(c.query({ text: `TRUNCATE ${table}`, values: [] as unknown[] }), /warden: blocked: dropping is not allowed here/);
    await assert.rejects(c.query({ name: 'nope', text: `DROP TABLE ${table}` }), /warden: blocked/);
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 2);
    // Inside a transaction the target aborts it too, exactly as Postgres would for any error.
    await c.query('BEGIN');
    await c.query(`INSERT INTO ${table} VALUES (3)`);
    await assert.rejects(c.query(`DROP TABLE ${table}`), /warden: blocked/);
    await assert.rejects(c.query('SELECT 1'), /current transaction is aborted/);
    await c.query('ROLLBACK');
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 2);
  } finally {
    await c.end();
  }
});

test('postgres.js pipelines: only the refused statement fails', async () => {
  const sql = postgres({ host: '127.0.0.1', port: t.pgPort, user: 'guarded', password: token, database: 'x', max: 1 });
  try {
    const results = await Promise.allSettled([sql`SELECT 1 AS a`, sql.unsafe(`DROP TABLE ${table}`), sql`SELECT 2 AS b`]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.match(String((results[1] as PromiseRejectedResult).reason), /warden: blocked/);
    assert.equal(results[2].status, 'fulfilled');
  } finally {
    await sql.end();
  }
});

test('what cannot be classified falls to onUnknown (block here), and the record says why', async () => {
  const r = await psql(t.pgPort, 'guarded', token, ['-c', `DO $$BEGIN EXECUTE 'DROP TABLE ${table}'; END$$`]);
  assert.match(r.stderr, /warden: blocked/);
  assert.equal((await direct(`SELECT count(*) FROM ${table}`)).stdout.trim(), '2');
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 20 });
  const events = [];
  for (const s of sessions) events.push(...(await t.gw.services.getSession(s.id))!.events);
  const blocked = events.filter((e) => e.type === 'command' && e.data.decision === 'block');
  assert.ok(blocked.length >= 4, String(blocked.length));
  assert.ok(blocked.some((e) => e.data.rule === 'no-drop'));
});
