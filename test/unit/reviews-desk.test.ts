// The review desk over a real SQLite store: binding, reuse of an open review, distinct
// approvals, and an approval consumed exactly once when many sessions race for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { openStore, type Store } from '../../src/store/index.ts';
import { ReviewDesk, type HoldRequest } from '../../src/reviews/desk.ts';
import { reviewsConfigSchema } from '../../src/reviews/config.ts';
import { commandHash } from '../../src/reviews/types.ts';
import { sign, payload } from '../../src/reviews/webhooks.ts';
import type { Identity } from '../../src/identity/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'warden-desk-'));
let store: Store;
let desk: ReviewDesk;
const events: { type: string; actor?: string | null; data: Record<string, unknown> }[] = [];
const id = (name: string, groups: string[]): Identity => ({ kind: 'apikey', subject: `sub-${name}`, name, groups });
const alice = id('alice', ['dev']);
const bob = id('bob', ['approver']);
const carol = id('carol', ['dba']);

before(async () => {
  store = await openStore({ store: 'sqlite', dataDir: dir });
  desk = new ReviewDesk({
    store,
    audit: { append: async (e) => void events.push(e) },
    config: reviewsConfigSchema.parse({}),
    connection: (name) => ({ name, access: { groups: ['dev'], users: [] } }),
    baseUrl: () => 'http://gw.test',
  });
});
after(async () => {
  await desk.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const req = (text: string, who = alice, params?: (string | null)[], spec?: HoldRequest['spec']): HoldRequest => ({
  identity: who, connection: 'db', sessionId: 's1', command: params ? { text, params } : { text }, rule: 'r', reason: 'held by rule "r"', ...(spec ? { spec } : {}),
});

test('the binding covers connection, exact text (literals, spacing) and parameters', () => {
  const base = commandHash('db', 'DELETE FROM t WHERE id = 1', undefined);
  assert.notEqual(base, commandHash('db', 'DELETE FROM t WHERE id = 2', undefined));
  assert.notEqual(base, commandHash('db', 'DELETE FROM t WHERE id =  1', undefined));
  assert.notEqual(base, commandHash('db2', 'DELETE FROM t WHERE id = 1', undefined));
  assert.notEqual(commandHash('db', 'x', ['1']), commandHash('db', 'x', ['2']));
  assert.notEqual(commandHash('db', 'x', [null]), commandHash('db', 'x', ['null']));
  assert.equal(base, commandHash('db', 'DELETE FROM t WHERE id = 1', undefined));
});

test('an identical pending command reuses its review; the default approver group applies', async () => {
  const a = await desk.hold(req('DELETE FROM a'));
  const b = await desk.hold(req('DELETE FROM a'));
  assert.equal(a.action, 'review');
  assert.equal(a.review.id, b.review.id);
  assert.deepEqual(a.review.groups, ['approver']);
  assert.match(a.action === 'review' ? a.message : '', /warden reviews approve r[0-9a-f]{12}, or POST http:\/\/gw\.test\/api\/v1\/reviews\/r[0-9a-f]{12}\/approve/);
  assert.equal(events.filter((e) => e.type === 'review.created' && e.data.reviewId === a.review.id).length, 1);
});

test('self-approval, outsiders and double votes are refused; N distinct approvals approve', async () => {
  const h = await desk.hold(req('TRUNCATE b', alice, undefined, { groups: ['approver', 'dba'], approvals: 2 }));
  const rid = h.review.id;
  await assert.rejects(desk.vote(rid, { ...alice, groups: ['approver'] }, 'approve', null), /requester cannot approve/);
  await assert.rejects(desk.vote(rid, { ...bob, subject: 'other-key', name: 'alice' }, 'approve', null), /requester cannot approve/, 'same name, another token');
  await assert.rejects(desk.vote(rid, id('mallory', ['dev']), 'approve', null), /only members|no review/);
  assert.equal((await desk.vote(rid, bob, 'approve', 'one')).status, 'pending');
  await assert.rejects(desk.vote(rid, bob, 'approve', null), /already voted/);
  assert.equal((await desk.hold(req('TRUNCATE b', alice, undefined, { groups: ['approver', 'dba'], approvals: 2 }))).action, 'review');
  const done = await desk.vote(rid, carol, 'approve', 'two');
  assert.equal(done.status, 'approved');
  assert.equal(done.approvals, 2);
});

test('an approval is consumed exactly once when sessions race for it', async () => {
  const h = await desk.hold(req('DELETE FROM c', alice, ['42']));
  await desk.vote(h.review.id, bob, 'approve', null);
  const answers = await Promise.all(Array.from({ length: 8 }, () => desk.hold(req('DELETE FROM c', alice, ['42']))));
  const allowed = answers.filter((a) => a.action === 'allow');
  assert.equal(allowed.length, 1);
  assert.equal(allowed[0]!.review.id, h.review.id);
  const others = new Set(answers.filter((a) => a.action === 'review').map((a) => a.review.id));
  assert.equal(others.size, 1, 'the losers share one new review');
  assert.ok(!others.has(h.review.id));
  assert.equal(events.filter((e) => e.type === 'review.used' && e.data.reviewId === h.review.id).length, 1);
});

test('webhook signature is HMAC-SHA256 over "timestamp.body"; slack payload has text and blocks', async () => {
  const body = '{"a":1}';
  assert.equal(sign('k'.repeat(16), '1700000000', body), 'sha256=' + createHmac('sha256', 'k'.repeat(16)).update('1700000000.{"a":1}').digest('hex'));
  const r = (await desk.hold(req('DELETE FROM d'))).review;
  const s = payload({ type: 'review.created', review: r, actor: 'alice', approve: desk.approveHow(r.id) }, 'slack') as { text: string; blocks: unknown[] };
  assert.match(s.text, new RegExp(`Review ${r.id} created`));
  assert.ok(s.blocks.length >= 3);
});
