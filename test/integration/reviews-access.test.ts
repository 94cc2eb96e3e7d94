// Wait mode (the client just sees a slow query that runs on approval) and time-window
// access requests (approved access for people outside a connection's groups, with its
// rules still applying, ending for new commands and new connections when it expires).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { psql } from '../helpers/clients.ts';
import { localPostgres } from '../helpers/gateway.ts';
import { sendCancelRequest } from '../helpers/raw-pg.ts';
import { startReviewGateway, direct, reviewIdOf, tableName, type ReviewGateway } from './reviews-harness.ts';

let t: ReviewGateway;
let alice: string, bob: string, erin: string;
const table = tableName('rv_wait');
const noWhere = [{ name: 'no-where', match: { noWhere: true }, action: 'review' }];

before(async () => {
  await direct(`CREATE TABLE ${table} (id int); INSERT INTO ${table} SELECT g FROM generate_series(1, 3) g`);
  t = await startReviewGateway({
    connections: [
      localPostgres('rv-wait', { access: { groups: ['dev'] }, reviews: { wait: '30s' }, rules: noWhere }),
      localPostgres('rv-short', { access: { groups: ['dev'] }, reviews: { wait: '1s' }, rules: noWhere }),
      localPostgres('rv-ops', { access: { groups: ['ops'] }, rules: noWhere }),
    ],
    reviews: { approvers: ['approver'], maxAccess: '2h' },
  });
  alice = await t.token(['dev'], 'alice');
  bob = await t.token(['approver'], 'bob');
  erin = await t.token(['contractors'], 'erin');
});
after(async () => {
  await t?.close();
  await direct(`DROP TABLE IF EXISTS ${table}`);
});

async function pendingOf(who: string, connection: string, kind = 'command'): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const list = await t.api(bob, 'GET', `/api/v1/reviews?status=pending&kind=${kind}`);
    const r = list.body.find((x: { requester: { name: string }; connection: string }) => x.requester.name === who && x.connection === connection);
    if (r) return r.id;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('no pending review appeared');
}

test('wait mode: the query waits for the approval and then runs', async () => {
  const running = psql(t.pgPort, 'rv-wait', alice, ['-c', `DELETE FROM ${table}`]);
  const id = await pendingOf('alice', 'rv-wait');
  assert.equal(Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n), 3, 'nothing ran before the approval');
  const ok = await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, { comment: 'go' });
  assert.equal(ok.status, 200);
  const res = await running;
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /DELETE 3/);
  assert.equal((await t.api(bob, 'GET', `/api/v1/reviews/${id}`)).body.status, 'used');
});

test('wait mode: without an approval in time the command is held with the review id', async () => {
  const res = await psql(t.pgPort, 'rv-short', alice, ['-c', `DELETE FROM ${table}`]);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /waited 1s/);
  reviewIdOf(res.stderr);
});

test('wait mode: a rejection ends the wait at once with the reason', async () => {
  const running = psql(t.pgPort, 'rv-wait', alice, ['-c', `UPDATE ${table} SET id = 7`]);
  const id = await pendingOf('alice', 'rv-wait');
  await t.api(bob, 'POST', `/api/v1/reviews/${id}/reject`, { comment: 'use a WHERE' });
  const res = await running;
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /rejected by bob: use a WHERE/);
});

test('wait mode: psql cancelled (Ctrl-C) while its command waits ends the wait; nothing runs, even once approved', async () => {
  await direct(`INSERT INTO ${table} VALUES (41), (42)`);
  const before = Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  // psql sends a CancelRequest on SIGINT; the command is at the gateway, not at the target, so the gateway cancels it
  const child = spawn('psql', [`host=127.0.0.1 port=${t.pgPort} user=rv-wait dbname=rv-wait sslmode=disable`, '-X', '-c', `DELETE FROM ${table}`], { env: { ...process.env, PGPASSWORD: alice } });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const exited = once(child, 'close');
  const id = await pendingOf('alice', 'rv-wait');
  child.kill('SIGINT');
  const [code] = await exited;
  assert.notEqual(code, 0);
  assert.match(stderr, /cancelled while it waited for review/, stderr);
  // approved afterwards: the cancelled command does not run on its own
  assert.equal((await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, { comment: 'late' })).status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n), before, 'the rows are intact');
  assert.equal((await t.api(bob, 'GET', `/api/v1/reviews/${id}`)).body.status, 'approved', 'the approval was not used');
});

test('wait mode: a raw CancelRequest for an extended-protocol statement (Parse/Bind/Execute) ends its wait; the connection goes on', async () => {
  await direct(`INSERT INTO ${table} VALUES (43)`);
  const before = Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'rv-wait', database: 'rv-wait', password: alice });
  await c.connect();
  try {
    // a named statement: the driver sends Parse, Bind, Execute, Sync
    const outcome = c.query({ name: 'wipe', text: `DELETE FROM ${table}` }).then(() => 'ran', (e: Error) => e.message);
    await pendingOf('alice', 'rv-wait');
    await sendCancelRequest(t.pgPort, c);
    assert.match(await outcome, /cancelled while it waited for review/);
    // the protocol state holds: the same connection runs the next statement
    assert.equal((await c.query('SELECT 7 AS v')).rows[0].v, 7);
  } finally {
    await c.end();
  }
  assert.equal(Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n), before, 'the rows are intact');
});

test('access request: refused, asked for, approved, used with rules applying', async () => {
  const refused = await psql(t.pgPort, 'rv-ops', erin, ['-c', 'SELECT 1']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /warden access request rv-ops/);

  const req = await t.warden(erin, ['access', 'request', 'rv-ops', '--for', '1h', '--reason', 'incident 42']);
  assert.equal(req.code, 0, req.stderr);
  const id = reviewIdOf(req.stdout);
  assert.equal((await t.api(erin, 'POST', `/api/v1/reviews/${id}/approve`, {})).status, 403, 'not their own');
  const still = await psql(t.pgPort, 'rv-ops', erin, ['-c', 'SELECT 1']);
  assert.notEqual(still.code, 0, 'pending is not approved');

  const cli = await t.warden(bob, ['reviews', 'approve', id, '--comment', 'for the incident']);
  assert.equal(cli.code, 0, cli.stderr);
  const ok = await psql(t.pgPort, 'rv-ops', erin, ['-tAc', 'SELECT 41 + 1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), '42');
  const held = await psql(t.pgPort, 'rv-ops', erin, ['-c', `DELETE FROM ${table}`]);
  assert.notEqual(held.code, 0, 'the connection rules still apply');
  reviewIdOf(held.stderr);

  const created = (await t.events('review.created')).find((e) => e.data.reviewId === id)!;
  assert.equal(created.data.kind, 'access');
  assert.equal(created.data.reason, 'incident 42');
  assert.ok((await t.events('review.approved')).some((e) => e.data.reviewId === id && e.actor === 'bob'));
});

test('access window expiry ends access for new commands and new connections', async () => {
  const frank = await t.token(['contractors'], 'frank');
  const req = await t.api(frank, 'POST', '/api/v1/access-requests', { connection: 'rv-ops', duration: '2s', reason: 'quick look' });
  assert.equal(req.status, 201);
  assert.equal((await t.api(frank, 'POST', '/api/v1/access-requests', { connection: 'rv-ops', duration: '3h', reason: 'too long' })).status, 400);
  await t.api(bob, 'POST', `/api/v1/reviews/${req.body.id}/approve`, {});
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'rv-ops', database: 'rv-ops', password: frank });
  await c.connect();
  try {
    assert.equal((await c.query('SELECT 1 AS x')).rows[0].x, 1);
    const status = await t.api(frank, 'GET', `/api/v1/reviews/${req.body.id}`);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(status.body.expiresAt) - Date.now()) + 200));
    await assert.rejects(c.query('SELECT 2'), /access window on "rv-ops" has ended/);
  } finally {
    await c.end().catch(() => {});
  }
  const again = await psql(t.pgPort, 'rv-ops', frank, ['-c', 'SELECT 1']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /not allowed to use connection "rv-ops"/);
});
