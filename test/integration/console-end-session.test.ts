// An admin ends a live session from the console (POST /api/v1/console/sessions/:id/end):
// the client idle between commands is told at once and its connection closed, and the
// target's backend is gone (checked on the target itself, not through the gateway). The
// record's session end names the admin. A caller without the admin role ends nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { startTestGateway, localPostgres, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { eventsOf } from '../helpers/records.ts';

let t: TestGateway;
before(async () => {
  t = await startTestGateway({ connections: [localPostgres(), localMysql()] });
});
after(async () => {
  await t.close();
});

/** The live session an identity opened (the newest). */
async function sessionOf(identity: string): Promise<string> {
  await t.gw.services.audit.flush();
  const s = (await t.gw.services.listSessions({ limit: 100 })).find((x) => x.identityName === identity);
  assert.ok(s, `a session of ${identity}`);
  return s.id;
}

async function endSession(id: string, token: string): Promise<Response> {
  return fetch(`${t.httpUrl}/api/v1/console/sessions/${id}/end`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
}

/** Is a backend with this pid alive on the machine's Postgres (asked directly, not through the gateway)? */
async function pgBackendAlive(pid: number): Promise<boolean> {
  const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await direct.connect();
  try {
    return (await direct.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 1;
  } finally {
    await direct.end();
  }
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const stop = Date.now() + ms;
  while (Date.now() < stop) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

async function endReason(identity: string): Promise<string> {
  const end = (await eventsOf(t, identity)).find((e) => e.type === 'session.end');
  return String(end?.data.reason);
}

test('pg driver: an ended session gets FATAL 57P01 naming the admin, the connection closes, the target backend is gone', { timeout: 20_000 }, async () => {
  const client = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'local', password: await t.token(['dev'], 'pg-ended'), database: 'x' });
  await client.connect();
  const pid = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  assert.ok(await pgBackendAlive(pid));
  // the driver reports the FATAL, then (as for any close) that the connection ended
  const errors: (Error & { code?: string; severity?: string })[] = [];
  const errored = new Promise<Error & { code?: string; severity?: string }>((resolve) => client.on('error', (e) => {
    errors.push(e);
    resolve(errors[0]!);
  }));
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  const id = await sessionOf('pg-ended');

  // A hostile caller with an ordinary token ends nothing.
  assert.equal((await endSession(id, await t.token(['dev'], 'someone'))).status, 403);
  assert.equal(Number((await client.query('SELECT 1 AS one')).rows[0].one), 1);

  assert.equal((await endSession(id, t.adminToken)).status, 200);
  const err = await errored;
  assert.equal(err.code, '57P01');
  assert.equal(err.severity, 'FATAL');
  assert.match(err.message, /ended by admin in the console/);
  await ended;
  assert.ok(await until(async () => !(await pgBackendAlive(pid))), 'the target backend is gone');
  assert.match(await endReason('pg-ended'), /^ended by admin in the console$/);
  // Ending it again: it is no longer live.
  assert.equal((await endSession(id, t.adminToken)).status, 404);
});

test('pg driver: a session ended while a statement runs at the target: the statement is cancelled there, the backend gone', { timeout: 20_000 }, async () => {
  const client = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'local', password: await t.token(['dev'], 'pg-busy'), database: 'x' });
  await client.connect();
  client.on('error', () => {});
  const pid = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  const running = client.query('SELECT pg_sleep(60)').then(() => null, (e: Error & { code?: string }) => e);
  // the sleep is under way at the target
  assert.ok(await until(async () => {
    const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await direct.connect();
    try {
      return (await direct.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", [pid])).rowCount === 1;
    } finally {
      await direct.end();
    }
  }));
  assert.equal((await endSession(await sessionOf('pg-busy'), t.adminToken)).status, 200);
  const err = await running;
  assert.ok(err, 'the statement did not complete');
  assert.match(err.message, /ended by admin in the console|terminated/);
  // well before the sleep's 60 s: the backend stopped at the cancel, not at its next write
  assert.ok(await until(async () => !(await pgBackendAlive(pid)), 10_000), 'the target backend is gone');
});

test('psql reading a script from a pipe: told FATAL at its next command, the target backend already gone', { timeout: 20_000 }, async () => {
  const token = await t.token(['dev'], 'psql-ended');
  const psql = spawn('psql', ['-X', '-h', '127.0.0.1', '-p', String(t.pgPort), '-U', 'local', '-d', 'x', '-At', '-f', '-'], {
    env: { ...process.env, PGPASSWORD: token }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  psql.stdout.on('data', (d: Buffer) => (out += d));
  psql.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => psql.on('exit', (code) => resolve(code)));
  psql.stdin.write('SELECT pg_backend_pid();\n');
  assert.ok(await until(async () => /^\d+$/m.test(out)), `psql printed its backend pid (${err})`);
  const pid = Number(/^(\d+)$/m.exec(out)![1]);
  assert.ok(await pgBackendAlive(pid));
  assert.equal((await endSession(await sessionOf('psql-ended'), t.adminToken)).status, 200);
  // psql sits reading its script: the connection is closed under it, and the target's backend with it.
  assert.ok(await until(async () => !(await pgBackendAlive(pid))), 'the target backend is gone');
  psql.stdin.write("SELECT 'after' AS late;\n");
  psql.stdin.end();
  const code = await exited;
  assert.notEqual(code, 0);
  assert.doesNotMatch(out, /after/);
  assert.match(err, /FATAL: +warden: terminating connection: ended by admin in the console/);
  assert.match(await endReason('psql-ended'), /ended by admin/);
});

test('mysql2: an ended session gets an error packet naming the admin, the connection closes, the target thread is gone', { timeout: 20_000 }, async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'mylocal', password: await t.token(['dev'], 'my-ended') });
  const [rows] = await c.query('SELECT CONNECTION_ID() AS id');
  const threadId = Number((rows as { id: number }[])[0]!.id);
  const direct = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  const alive = async () => {
    const [r] = await direct.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
    return (r as unknown[]).length === 1;
  };
  try {
    assert.ok(await alive());
    // the promise wrapper's underlying connection (untyped): where a fatal error is reported
    const raw = (c as unknown as { connection: import('node:events').EventEmitter & { stream: import('node:net').Socket } }).connection;
    const errored = new Promise<Error>((resolve) => raw.once('error', resolve));
    const closed = new Promise<void>((resolve) => raw.stream.once('close', () => resolve()));
    assert.equal((await endSession(await sessionOf('my-ended'), t.adminToken)).status, 200);
    const err = await errored;
    assert.match(err.message, /ended by admin in the console/);
    await closed;
    assert.ok(await until(async () => !(await alive())), 'the target thread is gone');
    await assert.rejects(c.query('SELECT 1'));
    assert.match(await endReason('my-ended'), /^ended by admin in the console$/);
  } finally {
    await direct.end();
    c.destroy();
  }
});

test('mysql2: a session ended while a statement runs at the target: the target thread is gone well before the statement would end', { timeout: 60_000 }, async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'mylocal', password: await t.token(['dev'], 'my-busy') });
  const raw = (c as unknown as { connection: import('node:events').EventEmitter }).connection;
  raw.on('error', () => {});
  const [rows] = await c.query('SELECT CONNECTION_ID() AS id');
  const threadId = Number((rows as { id: number }[])[0]!.id);
  const direct = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  const alive = async () => {
    const [r] = await direct.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
    return (r as unknown[]).length === 1;
  };
  try {
    const running = c.query('SELECT SLEEP(120)').then(() => null, (e: Error) => e);
    assert.ok(await until(async () => {
      const [r] = await direct.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'", [threadId]);
      return (r as unknown[]).length === 1;
    }));
    assert.equal((await endSession(await sessionOf('my-busy'), t.adminToken)).status, 200);
    assert.ok(await running, 'the statement did not complete');
    // MariaDB notices its client gone while SLEEP runs (within seconds), long before the 120 s
    assert.ok(await until(async () => !(await alive()), 40_000), 'the target thread is gone');
  } finally {
    await direct.end();
    c.destroy();
  }
});
