// The pg driver, postgres.js and pgbench through the gateway: prepared statements,
// pipelining, cancel, and the failure cases a proxy must survive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import pg from 'pg';
import postgres from 'postgres';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';

let t: TestGateway;
let token: string;
const db = `warden_drv_${process.pid}`;

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${db}`]);
  t = await startTestGateway({ connections: [localPostgres('drv', { database: db })] });
  token = await t.token(['dev'], 'driver');
});
after(async () => {
  await t.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
});

const pgClient = () => new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'drv', password: token, database: 'drv' });

test('pg driver: parameters, named prepared statements, types, errors', async () => {
  const c = pgClient();
  await c.connect();
  try {
    const r = await c.query('SELECT $1::int + 1 AS n, $2::text AS s, $3::timestamptz AS t, $4::jsonb AS j', [41, 'héllo', new Date(0), { a: [1, 2] }]);
    assert.deepEqual(r.rows[0], { n: 42, s: 'héllo', t: new Date(0), j: { a: [1, 2] } });
    for (let i = 0; i < 5; i++) {
      const p = await c.query({ name: 'by-id', text: 'SELECT $1::int * 2 AS v', values: [i] });
      assert.equal(p.rows[0].v, i * 2);
    }
    await assert.rejects(c.query('SELECT $1::int', ['not a number']), /invalid input syntax for type integer/);
    const after = await c.query('SELECT 1 AS ok');
    assert.equal(after.rows[0].ok, 1);
  } finally {
    await c.end();
  }
});

test('postgres.js: pipelined prepared statements and a transaction', async () => {
  const sql = postgres({ host: '127.0.0.1', port: t.pgPort, user: 'drv', password: token, database: 'drv', max: 1, prepare: true, onnotice: () => {} });
  try {
    await sql`CREATE TABLE IF NOT EXISTS pipe (id int primary key, v text)`;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sql`INSERT INTO pipe VALUES (${i}, ${'v' + i}) RETURNING id`));
    assert.deepEqual(results.map((r) => r[0]!.id), Array.from({ length: 50 }, (_, i) => i));
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => sql`SELECT v FROM pipe WHERE id = ${i}`));
    assert.deepEqual(many.map((r) => r[0]!.v), Array.from({ length: 20 }, (_, i) => 'v' + i));
    await assert.rejects(sql.begin(async (tx) => {
      await tx`INSERT INTO pipe VALUES (1000, 'in tx')`;
      await tx`SELECT 1/0`;
    }), /division by zero/);
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM pipe WHERE id = 1000`;
    assert.equal(count, 0);
  } finally {
    await sql.end();
  }
});

test('pgbench runs its select script in simple, extended and prepared modes', async () => {
  const env = { PGPASSWORD: token, PGSSLMODE: 'disable' };
  const init = await run('pgbench', ['-h', '127.0.0.1', '-p', String(t.pgPort), '-U', 'drv', '-i', '-s', '1', '-q', 'drv'], { env });
  assert.equal(init.code, 0, init.stderr);
  for (const mode of ['simple', 'extended', 'prepared']) {
    const r = await run('pgbench', ['-h', '127.0.0.1', '-p', String(t.pgPort), '-U', 'drv', '-n', '-M', mode, '-c', '4', '-j', '2', '-t', '200', 'drv'], { env });
    assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
    assert.match(r.stdout, /number of transactions actually processed: 800\/800/, mode);
    assert.match(r.stdout, /number of failed transactions: 0/, mode);
  }
});

test('cancel reaches the target session through the gateway keys', async () => {
  const sql = postgres({ host: '127.0.0.1', port: t.pgPort, user: 'drv', password: token, database: 'drv', max: 1 });
  try {
    const q = sql`SELECT pg_sleep(30)`;
    const outcome = q.then(() => 'finished', (e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 300));
    // postgres.js sends a CancelRequest with the (gateway-made) key on a new connection.
    await q.cancel();
    assert.match(await outcome, /canceling statement due to user request/);
    assert.deepEqual([...(await sql`SELECT 5 AS v`)], [{ v: 5 }]);
  } finally {
    await sql.end();
  }
});

test('an upstream that dies gives the client a clear error and ends the session with that reason', async () => {
  const c = pgClient();
  await c.connect();
  const failed = new Promise<string>((resolve) => c.on('error', (e) => resolve(e.message)));
  const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `SELECT pg_terminate_backend(${pid})`]);
  // The target's own FATAL reaches the client, then the gateway closes the session.
  assert.match(await failed, /terminating connection due to administrator command/);
  await c.end().catch(() => {});
  // The gateway and other sessions go on.
  const d = pgClient();
  await d.connect();
  assert.equal((await d.query('SELECT 9 AS v')).rows[0].v, 9);
  await d.end();
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 100 });
  // The target's FATAL names the cause, whether the client or the target closes first.
  const reason = 'the target ended the session: terminating connection due to administrator command';
  assert.ok(sessions.some((s) => s.endReason === reason), JSON.stringify(sessions.map((s) => s.endReason)));
});

/** Authenticate a raw socket as a client would, returning it ready for queries. */
async function rawSession(): Promise<{ send(b: Buffer): void; read(): Promise<Buffer>; closed: Promise<void> }> {
  const s = connect(t.pgPort, '127.0.0.1');
  const chunks: Buffer[] = [];
  let notify: (() => void) | null = null;
  s.on('data', (d) => { chunks.push(d); notify?.(); });
  const closed = new Promise<void>((r) => s.on('close', () => { notify?.(); r(); }));
  const startup = Buffer.alloc(8 + 'user\0drv\0database\0drv\0\0'.length);
  startup.writeInt32BE(startup.length, 0);
  startup.writeInt32BE(196608, 4);
  startup.write('user\0drv\0database\0drv\0\0', 8);
  s.write(startup);
  const read = async () => {
    while (chunks.length === 0) await new Promise<void>((r) => (notify = r));
    return Buffer.concat(chunks.splice(0));
  };
  await read(); // AuthenticationCleartextPassword
  const pw = Buffer.from(token + '\0');
  const msg = Buffer.alloc(5);
  msg[0] = 0x70;
  msg.writeInt32BE(4 + pw.length, 1);
  s.write(Buffer.concat([msg, pw]));
  let got = Buffer.alloc(0);
  while (!got.includes(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]))) got = Buffer.concat([got, await read()]);
  return { send: (b) => s.write(b), read, closed };
}

test('a malformed or oversized frame closes that session with an error; others go on', async () => {
  const other = pgClient();
  await other.connect();
  const a = await rawSession();
  a.send(Buffer.from([0x51, 0, 0, 0, 2])); // length 2 < 4
  let out = Buffer.alloc(0);
  const readAll = async (x: typeof a) => {
    for (;;) {
      const r = await Promise.race([x.read(), x.closed.then(() => null)]);
      if (!r) return;
      out = Buffer.concat([out, r]);
    }
  };
  await readAll(a);
  assert.match(out.toString('latin1'), /invalid message length 2/);
  out = Buffer.alloc(0);
  const b = await rawSession();
  b.send(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]));
  await readAll(b);
  assert.match(out.toString('latin1'), /exceeds the limit/);
  out = Buffer.alloc(0);
  const c = await rawSession();
  c.send(Buffer.from([0x21, 0, 0, 0, 4])); // unknown type '!'
  await readAll(c);
  assert.match(out.toString('latin1'), /unexpected message type 0x21/);
  assert.equal((await other.query('SELECT 3 AS v')).rows[0].v, 3);
  await other.end();
});
