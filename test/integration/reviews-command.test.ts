// Per-command review against the real gateway and Postgres: a DELETE without WHERE is
// held (the target unchanged), the requester cannot approve it, an approver does, the
// approved command runs exactly once, different commands need their own review, and
// everything is in the audit log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { psql } from '../helpers/clients.ts';
import { localPostgres } from '../helpers/gateway.ts';
import { startReviewGateway, direct, reviewIdOf, tableName, type ReviewGateway } from './reviews-harness.ts';

let t: ReviewGateway;
let alice: string, bob: string, carol: string, dave: string;
const table = tableName('rv_cmd');
const table2 = tableName('rv_two');
const expiring = tableName('rv_exp');
const count = async (name: string) => Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${name}`))[0]!.n);
const fill = (name: string) => direct(`DELETE FROM ${name}; INSERT INTO ${name} SELECT g FROM generate_series(1, 3) g`);

before(async () => {
  for (const n of [table, table2, expiring]) await direct(`CREATE TABLE ${n} (id int); INSERT INTO ${n} SELECT g FROM generate_series(1, 3) g`);
  t = await startReviewGateway({
    connections: [
      localPostgres('rv', {
        access: { groups: ['dev'] },
        rules: [
          { name: 'expiring', match: { tables: ['rv_exp_*'], kinds: ['delete'] }, action: 'review', review: { groups: ['approver'], timeout: '1s' } },
          { name: 'no-where', match: { noWhere: true }, action: 'review', review: { groups: ['approver'] } },
          { name: 'truncate-two', match: { kinds: ['truncate'] }, action: 'review', review: { groups: ['approver', 'dba'], approvals: 2 } },
        ],
      }),
    ],
  });
  alice = await t.token(['dev'], 'alice');
  bob = await t.token(['dev', 'approver'], 'bob');
  carol = await t.token(['dba'], 'carol');
  dave = await t.token(['dev'], 'dave');
});
after(async () => {
  await t?.close();
  for (const n of [table, table2, expiring]) await direct(`DROP TABLE IF EXISTS ${n}`);
});

test('a DELETE without WHERE is held; only another approver approves it; it then runs exactly once', async () => {
  const held = await psql(t.pgPort, 'rv', alice, ['-c', `DELETE FROM ${table}`]);
  assert.notEqual(held.code, 0);
  assert.match(held.stderr, /no-where/);
  assert.match(held.stderr, /warden reviews approve r[0-9a-f]{12}/);
  assert.match(held.stderr, /\/api\/v1\/reviews\/r[0-9a-f]{12}\/approve/);
  const id = reviewIdOf(held.stderr);
  assert.equal(await count(table), 3, 'the target is unchanged');

  // The same command again while pending: the same review, not a second one.
  const again = await psql(t.pgPort, 'rv', alice, ['-c', `DELETE FROM ${table}`]);
  assert.equal(reviewIdOf(again.stderr), id);

  const own = await t.api(alice, 'POST', `/api/v1/reviews/${id}/approve`, { comment: 'me' });
  assert.equal(own.status, 403);
  assert.match(own.body.error, /requester cannot approve/);
  const outsider = await t.api(dave, 'POST', `/api/v1/reviews/${id}/approve`, {});
  assert.ok(outsider.status === 403 || outsider.status === 404, `outsider got ${outsider.status}`);

  const shown = await t.api(bob, 'GET', `/api/v1/reviews/${id}`);
  assert.equal(shown.status, 200);
  assert.equal(shown.body.command, `DELETE FROM ${table}`);
  assert.equal(shown.body.requester.name, 'alice');
  assert.equal(shown.body.status, 'pending');

  const cli = await t.warden(bob, ['reviews', 'approve', id, '--comment', 'ok for the cleanup']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`review ${id} approved`));

  const ran = await psql(t.pgPort, 'rv', alice, ['-c', `DELETE FROM ${table}`]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, /DELETE 3/);
  assert.equal(await count(table), 0);

  await fill(table);
  const second = await psql(t.pgPort, 'rv', alice, ['-c', `DELETE FROM ${table}`]);
  assert.notEqual(second.code, 0, 'an approval runs once');
  assert.notEqual(reviewIdOf(second.stderr), id);
  assert.equal(await count(table), 3);

  const used = await t.api(bob, 'GET', `/api/v1/reviews/${id}`);
  assert.equal(used.body.status, 'used');
  assert.equal(used.body.votes[0].comment, 'ok for the cleanup');

  const types = (await t.events('review.')).filter((e) => e.data.reviewId === id).map((e) => e.type);
  assert.deepEqual(types, ['review.created', 'review.approved', 'review.used']);
  const approved = (await t.events('review.approved')).find((e) => e.data.reviewId === id)!;
  assert.equal(approved.actor, 'bob');
  assert.equal(approved.data.comment, 'ok for the cleanup');
  const cmds = (await t.events('command')).filter((e) => e.data.reviewId === id).map((e) => e.data.decision);
  assert.deepEqual(cmds, ['review', 'review', 'allow']);
});

test('an approval is bound to the exact text and to the requester', async () => {
  const a = await psql(t.pgPort, 'rv', alice, ['-c', `DELETE FROM ${table2}`]);
  const id = reviewIdOf(a.stderr);
  assert.equal((await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, {})).status, 200);
  // different text (case, spacing): its own review
  const other = await psql(t.pgPort, 'rv', alice, ['-c', `delete from ${table2}`]);
  assert.notEqual(other.code, 0);
  assert.notEqual(reviewIdOf(other.stderr), id);
  // same text, another requester: its own review
  const dav = await psql(t.pgPort, 'rv', dave, ['-c', `DELETE FROM ${table2}`]);
  assert.notEqual(dav.code, 0);
  assert.notEqual(reviewIdOf(dav.stderr), id);
  assert.equal(await count(table2), 3);
  // the approved one still runs for alice
  const ok = await psql(t.pgPort, 'rv', alice, ['-c', `DELETE FROM ${table2}`]);
  assert.equal(ok.code, 0, ok.stderr);
  await fill(table2);
});

test('reject closes a review with a comment; running the command again asks anew', async () => {
  const a = await psql(t.pgPort, 'rv', alice, ['-c', `UPDATE ${table2} SET id = 0`]);
  const id = reviewIdOf(a.stderr);
  const cli = await t.warden(bob, ['reviews', 'reject', id, '--comment', 'not during business hours']);
  assert.equal(cli.code, 0, cli.stderr);
  const r = await t.api(alice, 'GET', `/api/v1/reviews/${id}`);
  assert.equal(r.body.status, 'rejected');
  assert.equal(r.body.votes[0].comment, 'not during business hours');
  assert.equal((await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, {})).status, 409);
  const again = await psql(t.pgPort, 'rv', alice, ['-c', `UPDATE ${table2} SET id = 0`]);
  assert.notEqual(reviewIdOf(again.stderr), id);
  assert.equal(Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${table2} WHERE id = 0`))[0]!.n), 0);
  assert.ok((await t.events('review.rejected')).some((e) => e.data.reviewId === id && e.actor === 'bob'));
});

test('N distinct approvals: one voter counts once', async () => {
  const a = await psql(t.pgPort, 'rv', alice, ['-c', `TRUNCATE ${table2}`]);
  const id = reviewIdOf(a.stderr);
  const first = await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, {});
  assert.equal(first.body.status, 'pending');
  assert.equal(first.body.approvals, 1);
  assert.equal((await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, {})).status, 409);
  assert.notEqual((await psql(t.pgPort, 'rv', alice, ['-c', `TRUNCATE ${table2}`])).code, 0, 'one approval of two is not enough');
  const second = await t.api(carol, 'POST', `/api/v1/reviews/${id}/approve`, { comment: 'second pair of eyes' });
  assert.equal(second.body.status, 'approved');
  const ran = await psql(t.pgPort, 'rv', alice, ['-c', `TRUNCATE ${table2}`]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(await count(table2), 0);
  await fill(table2);
});

test('an expired review cannot be approved', async () => {
  const a = await psql(t.pgPort, 'rv', alice, ['-c', `DELETE FROM ${expiring} WHERE id = 1`]);
  const id = reviewIdOf(a.stderr);
  await new Promise((r) => setTimeout(r, 1500));
  const late = await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, {});
  assert.equal(late.status, 409);
  assert.match(late.body.error, /expired/);
  assert.ok((await t.events('review.expired')).some((e) => e.data.reviewId === id));
  assert.equal(await count(expiring), 3);
});

test('reviews list and show: the CLI and the API, filtered by who may see them', async () => {
  const list = await t.warden(bob, ['reviews', 'list', '--status', 'used', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok((JSON.parse(list.stdout) as { status: string }[]).every((r) => r.status === 'used'));
  const human = await t.warden(bob, ['reviews', 'list']);
  assert.match(human.stdout, /ID\s+KIND\s+STATUS/);
  // dave (no approver group) sees only his own
  const mine = await t.api(dave, 'GET', '/api/v1/reviews');
  assert.equal(mine.status, 200);
  assert.ok(mine.body.length >= 1);
  assert.ok(mine.body.every((r: { requester: { name: string } }) => r.requester.name === 'dave'));
  const id = mine.body[0].id;
  const show = await t.warden(dave, ['reviews', 'show', id]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`review ${id}`));
  assert.equal((await t.api(dave, 'GET', '/api/v1/reviews?status=bogus')).status, 400);
  const doc = await (await fetch(`${t.httpUrl}/api/v1/openapi.json`)).json() as { paths: Record<string, unknown> };
  for (const p of ['/api/v1/reviews', '/api/v1/reviews/{id}', '/api/v1/reviews/{id}/approve', '/api/v1/reviews/{id}/reject', '/api/v1/access-requests']) assert.ok(p in doc.paths, p);
});
