// Data-plane worker threads (gateway.workers: 2) hold what only the main thread can tell
// them: an admin ends a worker's session from the console; a CancelRequest reaches the
// statement whichever thread the kernel gave it to; a command held for review waits on a
// worker, runs once approved, and a client's cancel ends the wait with nothing run; the
// metrics count a worker's sessions. The config refuses workers where they cannot dial,
// and a taken port fails the start with its reason. (The conformance suite runs against
// workers too: test/conformance/postgres-workers.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.ts';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { eventsOf } from '../helpers/records.ts';
import { sendCancelRequest } from '../helpers/raw-pg.ts';

const table = `warden_workers_${process.pid}`;
let t: TestGateway;

async function direct(sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}
const rowsLeft = async () => Number((await direct(`SELECT count(*) AS n FROM ${table}`))[0]!.n);

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const stop = Date.now() + ms; Date.now() < stop; await new Promise((r) => setTimeout(r, 50))) if (await check()) return true;
  return check();
}

/** Is the target running this backend's statement now (asked of the target, not through the gateway)? */
const active = (pid: number) => async () => (await direct(`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND state = 'active' AND query LIKE 'SELECT pg_sleep%'`)).length === 1;

async function client(identity: string, user = 'w'): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user, password: await t.token(['dev'], identity), database: 'x' });
  c.on('error', () => {});
  await c.connect();
  return c;
}

before(async () => {
  await direct(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id int); INSERT INTO ${table} SELECT g FROM generate_series(1, 3) g`);
  t = await startTestGateway({
    connections: [localPostgres('w'), localPostgres('w-wait', { reviews: { wait: '30s' }, rules: [{ name: 'no-where', match: { noWhere: true }, action: 'review' }] })],
    gateway: { workers: 2 },
  });
});
after(async () => {
  await t?.close();
  await direct(`DROP TABLE IF EXISTS ${table}`);
});

test('an admin ends a worker\'s session from the console: the client gets FATAL 57P01, the backend is gone, the record names the admin', async () => {
  const c = await client('w-ended');
  const pid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  const errored = new Promise<Error & { code?: string }>((resolve) => c.on('error', resolve));
  await t.gw.services.audit.flush();
  const session = (await t.gw.services.listSessions({ limit: 100 })).find((s) => s.identityName === 'w-ended')!;
  const end = () => fetch(`${t.httpUrl}/api/v1/console/sessions/${session.id}/end`, { method: 'POST', headers: { authorization: `Bearer ${t.adminToken}` } });
  assert.equal((await end()).status, 200);
  assert.equal((await errored).code, '57P01');
  assert.ok(await until(async () => (await direct(`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`)).length === 0), 'the target backend is gone');
  assert.equal((await end()).status, 404, 'no longer live');
  const reason = (await eventsOf(t, 'w-ended')).find((e) => e.type === 'session.end')?.data.reason;
  assert.equal(reason, 'ended by admin in the console');
});

test('a CancelRequest stops the statement whichever worker took the cancel\'s connection (eight sessions, one cancel each)', async () => {
  // The kernel spreads connections over the two workers: about half of these cancels land
  // on the thread that does not hold the session, and are found through the main thread.
  const cs = await Promise.all(Array.from({ length: 8 }, (_, i) => client(`w-cancel-${i}`)));
  // a cancel key's pid names the thread that gave it: a worker's (1 or 2 modulo 3), never the main thread's (0)
  for (const c of cs) assert.notEqual((c as unknown as { processID: number }).processID % 3, 0);
  try {
    const outcomes = await Promise.all(
      cs.map(async (c) => {
        const pid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
        const running = c.query('SELECT pg_sleep(30)').then(() => 'ran', (e: Error) => e.message);
        assert.ok(await until(active(pid)), 'the sleep is under way at the target');
        void sendCancelRequest(t.pgPort, c);
        return running;
      }),
    );
    for (const o of outcomes) assert.match(o, /canceling statement due to user request/);
    for (const c of cs) assert.equal(Number((await c.query('SELECT 1 AS one')).rows[0].one), 1, 'the session goes on');
  } finally {
    await Promise.all(cs.map((c) => c.end()));
  }
});

test('a CancelRequest with a key no thread gave (a guessed key, or the right pid with a wrong key) stops nothing; an unknown connection name is refused', async () => {
  const c = await client('w-guess');
  try {
    const pid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const running = c.query('SELECT pg_sleep(1.5)').then(() => 'ran', (e: Error) => e.message);
    assert.ok(await until(active(pid)), 'the sleep is under way at the target');
    const keys = c as unknown as { processID: number; secretKey: number };
    // several, so each lands on either worker, and goes through the main thread to the thread its pid names
    for (let i = 0; i < 6; i++) {
      await sendCancelRequest(t.pgPort, { processID: (keys.processID % 2_000_000_000) + 1 + i, secretKey: keys.secretKey });
      await sendCancelRequest(t.pgPort, { processID: keys.processID, secretKey: keys.secretKey ^ (1 << i) });
    }
    assert.equal(await running, 'ran', 'the statement ran to its end');
    assert.equal(Number((await c.query('SELECT 1 AS one')).rows[0].one), 1);
  } finally {
    await c.end();
  }
  const stranger = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'no-such-connection', password: await t.token(['dev'], 'w-stranger'), database: 'x' });
  await assert.rejects(stranger.connect(), /no-such-connection/);
});

test('a command held for review waits on a worker, runs once approved; a cancel during the wait ends it and nothing runs', async () => {
  const pending = async (): Promise<string> => {
    let id = '';
    await until(async () => {
      const r = await fetch(`${t.httpUrl}/api/v1/reviews?status=pending&kind=command`, { headers: { authorization: `Bearer ${t.adminToken}` } });
      id = ((await r.json()) as { id: string; connection: string }[]).find((x) => x.connection === 'w-wait')?.id ?? '';
      return id !== '';
    });
    assert.ok(id, 'a pending review');
    return id;
  };
  const approve = (id: string) => fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' }, body: '{"comment":"ok"}' });

  const c = await client('w-held', 'w-wait');
  try {
    // cancelled while it waits: the wait ends, and a later approval runs nothing
    const cancelled = c.query(`DELETE FROM ${table}`).then(() => 'ran', (e: Error) => e.message);
    const first = await pending();
    await sendCancelRequest(t.pgPort, c);
    assert.match(await cancelled, /cancelled while it waited for review/);
    assert.equal((await approve(first)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await rowsLeft(), 3, 'the rows are intact');

    // approved while it waits: it runs, once (another statement: the first one's approval stands unused)
    const running = c.query(`UPDATE ${table} SET id = id + 10`).then((r) => `UPDATE ${r.rowCount}`, (e: Error) => e.message);
    const second = await pending();
    assert.notEqual(second, first);
    assert.equal(Number((await direct(`SELECT max(id) AS m FROM ${table}`))[0]!.m), 3, 'nothing ran before the approval');
    assert.equal((await approve(second)).status, 200);
    assert.equal(await running, 'UPDATE 3');
    assert.equal(Number((await direct(`SELECT max(id) AS m FROM ${table}`))[0]!.m), 13);
  } finally {
    await c.end();
  }
});

test('the kernel spreads connections over both workers, and the metrics count each one\'s sessions', async () => {
  const perWorker = async () => {
    const body = await (await fetch(`${t.httpUrl}/metrics`)).text();
    return [0, 1].map((i) => Number(new RegExp(`^warden_worker_sessions_active\\{worker="${i}"\\} (\\d+)`, 'm').exec(body)?.[1] ?? NaN));
  };
  // sixteen connections all on one of two listeners: once in 2^15
  const cs = await Promise.all(Array.from({ length: 16 }, (_, i) => client(`w-spread-${i}`)));
  try {
    assert.ok(await until(async () => (await perWorker()).reduce((a, b) => a + b, 0) === 16, 5000), `all counted (${await perWorker()})`);
    const [a, b] = await perWorker();
    assert.ok(a! > 0 && b! > 0, `both workers serve sessions (${a}, ${b})`);
  } finally {
    await Promise.all(cs.map((c) => c.end()));
  }
});

test('the metrics count the sessions a worker serves', async () => {
  const gauge = async () => {
    const body = await (await fetch(`${t.httpUrl}/metrics`)).text();
    return Number(/^warden_sessions_active (\d+)/m.exec(body)?.[1] ?? NaN);
  };
  // the earlier tests' sessions are gone once the workers next report (every second)
  assert.ok(await until(async () => (await gauge()) === 0, 5000), `no session open (${await gauge()})`);
  const cs = await Promise.all([client('w-m1'), client('w-m2'), client('w-m3')]);
  try {
    assert.ok(await until(async () => (await gauge()) === 3, 5000), `the gauge counts them (${await gauge()})`);
  } finally {
    await Promise.all(cs.map((c) => c.end()));
  }
});

test('config: workers with a Postgres connection through a remote agent is refused, naming gateway.workers', () => {
  assert.throws(
    () => parseConfig({ gateway: { workers: 2 }, connections: [{ ...localPostgres('far'), agent: 'dc1' }] }),
    (e: Error) => /gateway\.workers/.test(e.message) && /agent "dc1"/.test(e.message),
  );
});

test('a taken port fails the start with its reason', async () => {
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  const port = (holder.address() as { port: number }).port;
  try {
    await assert.rejects(startTestGateway({ connections: [localPostgres('w')], gateway: { workers: 1, listen: { http: '127.0.0.1:0', postgres: `127.0.0.1:${port}`, mysql: null, ssh: null } } }), /data-plane worker 0 could not start: .*EADDRINUSE/);
  } finally {
    holder.close();
  }
});
