// The MySQL door on data-plane worker threads (gateway.workers: 2): every network connection
// is a worker's, and the connection id a client gets names the thread that gave it, so a
// KILL sent on a connection the kernel gave the other worker still reaches the statement —
// and only the caller's own. (The conformance suite runs against workers too:
// test/conformance/mysql-workers.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { parseConfig } from '../../src/config/load.ts';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { eventsOf } from '../helpers/records.ts';
import { rawMysqlConnect, type RawMysql } from '../helpers/raw-mysql.ts';
import { COM } from '../../src/protocols/mysql/constants.ts';
import { decodeErr } from '../../src/protocols/mysql/messages.ts';

/** threads with a MySQL door: the main thread (in-process clients only) and two workers */
const THREADS = 3;
let t: TestGateway;

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const stop = Date.now() + ms; Date.now() < stop; await new Promise((r) => setTimeout(r, 50))) if (await check()) return true;
  return check();
}

/** Statements the target is running now whose text starts so (asked of the target, not through the gateway). */
async function runningAtTarget(prefix: string): Promise<number> {
  const r = await run('mysql', ['-h', '127.0.0.1', '-uroot', '-N', '-B', '-e', `SELECT count(*) FROM information_schema.processlist WHERE info LIKE '${prefix}%' AND command = 'Query'`]);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim());
}

async function connect(token: string): Promise<mysql.Connection> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'my', password: token });
  c.on('error', () => {});
  return c;
}

/** A connection of `token` that a different thread than `other`'s serves (the kernel picks; a few tries). */
async function onAnotherThread(token: string, other: mysql.Connection): Promise<mysql.Connection> {
  const spare: mysql.Connection[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const c = await connect(token);
      if (c.threadId % THREADS !== other.threadId % THREADS) return c;
      spare.push(c);
    }
    throw new Error('forty connections on the same worker');
  } finally {
    await Promise.all(spare.map((c) => c.end()));
  }
}

before(async () => {
  t = await startTestGateway({ connections: [localMysql('my')], gateway: { workers: 2 } });
});
after(async () => {
  await t?.close();
});

test('the workers take every MySQL connection, both serve some, and the metrics count them', async () => {
  const perWorker = async () => {
    const body = await (await fetch(`${t.httpUrl}/metrics`)).text();
    return [0, 1].map((i) => Number(new RegExp(`^warden_worker_sessions_active\\{worker="${i}"\\} (\\d+)`, 'm').exec(body)?.[1] ?? NaN));
  };
  const token = await t.token(['dev'], 'my-spread');
  // sixteen connections all on one of two listeners: once in 2^15
  const cs = await Promise.all(Array.from({ length: 16 }, () => connect(token)));
  try {
    const threads = cs.map((c) => c.threadId % THREADS);
    assert.ok(!threads.includes(0), `no network connection is the main thread's (ids ${cs.map((c) => c.threadId)})`);
    assert.ok(threads.includes(1) && threads.includes(2), `both workers serve sessions (ids ${cs.map((c) => c.threadId)})`);
    assert.ok(await until(async () => (await perWorker()).reduce((a, b) => a + b, 0) === 16, 5000), `all counted (${await perWorker()})`);
    const [rows] = await cs[0]!.query('SELECT 40 + 2 AS answer');
    assert.equal((rows as { answer: number }[])[0]!.answer, 42);
  } finally {
    await Promise.all(cs.map((c) => c.end()));
  }
  await t.gw.services.audit.flush();
  const events = await eventsOf(t, 'my-spread');
  assert.equal(events.filter((e) => e.type === 'session.start').length, 16, 'each session recorded by the main thread');
  assert.ok(events.some((e) => e.type === 'command' && e.data.text === 'SELECT 40 + 2 AS answer'));
});

test('a KILL QUERY sent on a connection the other worker serves stops the caller\'s statement; the session goes on', async () => {
  const token = await t.token(['dev'], 'my-kill');
  const victim = await connect(token);
  const killer = await onAnotherThread(token, victim);
  try {
    const running = victim.query('SELECT SLEEP(30) AS slept').then(() => 'ran', (e: Error) => e.message);
    assert.ok(await until(async () => (await runningAtTarget('SELECT SLEEP(30)')) === 1), 'the sleep is under way at the target');
    await killer.query(`KILL QUERY ${victim.threadId}`);
    assert.match(await running, /interrupted/i);
    assert.equal(await runningAtTarget('SELECT SLEEP(30)'), 0, 'nothing runs at the target');
    const [rows] = await victim.query('SELECT 1 AS one');
    assert.equal((rows as { one: number }[])[0]!.one, 1, 'the session goes on');
  } finally {
    await Promise.all([victim.end(), killer.end()]);
  }
  await t.gw.services.audit.flush();
  const kill = (await eventsOf(t, 'my-kill')).find((e) => e.type === 'command' && /^KILL QUERY \d+$/.test(String(e.data.text)));
  assert.ok(kill, 'the KILL is recorded, with the target\'s id it was rewritten to');
});

test('a KILL CONNECTION through the other worker ends the caller\'s session there: the target\'s connection is gone', async () => {
  const token = await t.token(['dev'], 'my-kill-conn');
  const victim = await connect(token);
  const killer = await onAnotherThread(token, victim);
  try {
    const [rows] = await victim.query('SELECT CONNECTION_ID() AS id');
    const upstream = Number((rows as { id: number }[])[0]!.id);
    assert.notEqual(upstream, victim.threadId, 'the client knows the gateway\'s id, not the target\'s');
    await killer.query(`KILL CONNECTION ${victim.threadId}`);
    const atTarget = async () => {
      const r = await run('mysql', ['-h', '127.0.0.1', '-uroot', '-N', '-B', '-e', `SELECT count(*) FROM information_schema.processlist WHERE id = ${upstream}`]);
      return Number(r.stdout.trim());
    };
    assert.ok(await until(async () => (await atTarget()) === 0), 'the target\'s connection is gone');
    await assert.rejects(victim.query('SELECT 1'));
    const [still] = await killer.query('SELECT 1 AS one');
    assert.equal((still as { one: number }[])[0]!.one, 1, 'the killer\'s own session goes on');
  } finally {
    victim.destroy();
    await killer.end();
  }
});

test('a KILL of another caller\'s session, of an id no session holds, or of a main-thread id, is refused across threads and stops nothing', async () => {
  const owner = await t.token(['dev'], 'my-owner');
  const victim = await connect(owner);
  const stranger = await onAnotherThread(await t.token(['dev'], 'my-stranger'), victim);
  try {
    const running = victim.query('SELECT SLEEP(2) AS slept').then(() => 'ran', (e: Error) => e.message);
    assert.ok(await until(async () => (await runningAtTarget('SELECT SLEEP(2)')) === 1), 'the sleep is under way at the target');
    await assert.rejects(stranger.query(`KILL QUERY ${victim.threadId}`), /not one of your sessions/);
    await assert.rejects(stranger.query(`KILL ${victim.threadId}`), /not one of your sessions/);
    // the same worker's id space, and the main thread's (offset 0): no session holds them
    await assert.rejects(stranger.query(`KILL QUERY ${victim.threadId + THREADS * 1000}`), /not a session of this gateway/);
    await assert.rejects(stranger.query(`KILL QUERY ${THREADS * 7}`), /not a session of this gateway/);
    assert.equal(await runningAtTarget('SELECT SLEEP(2)'), 1, 'the sleep still runs at the target');
    assert.equal(await running, 'ran', 'the statement ran to its end');
  } finally {
    await Promise.all([victim.end(), stranger.end()]);
  }
});

/** A raw wire client of `token` served by a different thread than `other`'s. */
async function rawOnAnotherThread(token: string, other: mysql.Connection): Promise<RawMysql> {
  for (let i = 0; i < 40; i++) {
    const c = await rawMysqlConnect(t.mysqlPort, 'my', token);
    if (c.connectionId % THREADS !== other.threadId % THREADS) return c;
    c.close();
  }
  throw new Error('forty connections on the same worker');
}

/** COM_PROCESS_KILL (the binary command older clients and mysqladmin send, no SQL text): the error it gets, or null for OK. */
async function processKill(c: RawMysql, id: number): Promise<string | null> {
  const payload = Buffer.alloc(5);
  payload[0] = COM.PROCESS_KILL;
  payload.writeUInt32LE(id, 1);
  c.send(payload);
  const p = (await c.next()).payload;
  return p[0] === 0xff ? decodeErr(p, 0, p.length).message : null;
}

test('COM_PROCESS_KILL, the binary command no driver sends, crosses threads under the same check: a stranger\'s and an unused id are refused, the owner\'s ends the session', async () => {
  const owner = await t.token(['dev'], 'my-raw-owner');
  const victim = await connect(owner);
  const stranger = await rawOnAnotherThread(await t.token(['dev'], 'my-raw-stranger'), victim);
  const killer = await rawOnAnotherThread(owner, victim);
  try {
    const running = victim.query('SELECT SLEEP(20) AS slept').then(() => 'ran', (e: Error) => e.message);
    assert.ok(await until(async () => (await runningAtTarget('SELECT SLEEP(20)')) === 1), 'the sleep is under way at the target');
    assert.match((await processKill(stranger, victim.threadId)) ?? 'OK', /not one of your sessions/);
    assert.match((await processKill(stranger, victim.threadId + THREADS * 1000)) ?? 'OK', /not a session of this gateway/);
    assert.match((await processKill(stranger, 0xffffffff)) ?? 'OK', /not a session of this gateway/);
    assert.equal(await runningAtTarget('SELECT SLEEP(20)'), 1, 'the sleep still runs at the target');
    assert.equal(await processKill(killer, victim.threadId), null, 'the owner\'s kill is answered OK');
    assert.match(await running, /interrupted|lost|closed|killed/i);
    assert.ok(await until(async () => (await runningAtTarget('SELECT SLEEP(20)')) === 0), 'nothing runs at the target');
  } finally {
    stranger.close();
    killer.close();
    victim.destroy();
  }
});

test('with workers, the main thread\'s MySQL door still serves in-process clients: an MCP run answers, masked, and is recorded', async () => {
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${await t.token(['dev'], 'my-mcp')}` } } }));
  try {
    const r = await client.callTool({ name: 'run', arguments: { connection: 'my', sql: "SELECT 42 AS answer, 'ann@example.com' AS email" } });
    assert.ok(!r.isError, JSON.stringify(r.content));
    const rows = (r.structuredContent as { rows: string[][] }).rows;
    assert.equal(rows[0]![0], '42');
    assert.doesNotMatch(JSON.stringify(r), /ann@example\.com/, 'the email is masked');
  } finally {
    await client.close();
  }
  const commands = (await eventsOf(t, 'my-mcp')).filter((e) => e.type === 'command');
  assert.ok(commands.some((e) => /SELECT 42 AS answer/.test(String(e.data.text))), 'recorded');
});

test('config: workers with a MySQL connection through a remote agent is refused, naming gateway.workers', () => {
  assert.throws(
    () => parseConfig({ gateway: { workers: 2 }, connections: [{ ...localMysql('far'), agent: 'dc1' }] }),
    (e: Error) => /gateway\.workers/.test(e.message) && /agent "dc1"/.test(e.message),
  );
});
