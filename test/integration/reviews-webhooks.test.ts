// Review notifications against a local receiver: every event is POSTed, signed with
// HMAC-SHA256 over `timestamp.body`, retried after a failure, in JSON and Slack formats.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { psql } from '../helpers/clients.ts';
import { localPostgres } from '../helpers/gateway.ts';
import { startReviewGateway, reviewIdOf, type ReviewGateway } from './reviews-harness.ts';

const SECRET = 'a-webhook-secret-of-some-length';
interface Delivery { path: string; event: string; body: any; attempt: number }

let t: ReviewGateway;
let receiver: Server;
const delivered: Delivery[] = [];
const attempts = new Map<string, number>();
let refusedBadSignature = 0;

/** What a receiver should do: check the signature, refuse stale timestamps, then accept. */
function verify(ts: string | undefined, sig: string | undefined, raw: string): boolean {
  if (!ts || !sig || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const want = Buffer.from('sha256=' + createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex'));
  const got = Buffer.from(sig);
  return want.length === got.length && timingSafeEqual(want, got);
}

before(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      if (!verify(req.headers['x-warden-timestamp'] as string, req.headers['x-warden-signature'] as string, raw)) {
        refusedBadSignature++;
        res.writeHead(401).end();
        return;
      }
      const body = JSON.parse(raw);
      const event = String(req.headers['x-warden-event']);
      const key = `${req.url} ${event} ${raw.length}`;
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      // every first attempt fails: delivery must retry
      if (n === 1) {
        res.writeHead(503).end('try later');
        return;
      }
      delivered.push({ path: req.url!, event, body, attempt: n });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  t = await startReviewGateway({
    connections: [localPostgres('rv-hooks', { access: { groups: ['dev'] }, rules: [{ name: 'no-where', match: { noWhere: true }, action: 'review' }] })],
    reviews: {
      url: 'https://warden.example.com',
      webhooks: [
        { url: `${base}/json`, secret: SECRET, backoff: '50ms' },
        { url: `${base}/slack`, secret: SECRET, format: 'slack', backoff: '50ms' },
      ],
    },
  });
});
after(async () => {
  await t?.close();
  await new Promise((r) => receiver.close(r));
});

async function until<T>(fn: () => T | undefined): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out waiting for a delivery');
}

test('created and approved events reach both hooks, signed, after a failed first attempt', async () => {
  const alice = await t.token(['dev'], 'alice');
  const bob = await t.token(['approver'], 'bob');
  const held = await psql(t.pgPort, 'rv-hooks', alice, ['-c', 'DELETE FROM pg_temp.nothing_here']);
  const id = reviewIdOf(held.stderr);
  assert.match(held.stderr, /POST https:\/\/warden\.example\.com\/api\/v1\/reviews\/r[0-9a-f]{12}\/approve/, 'reviews.url names where to approve');

  const json = await until(() => delivered.find((d) => d.path === '/json' && d.event === 'review.created' && d.body.review.id === id));
  assert.equal(json.attempt, 2);
  assert.equal(json.body.event, 'review.created');
  assert.equal(json.body.review.command, 'DELETE FROM pg_temp.nothing_here');
  assert.equal(json.body.review.requester.name, 'alice');
  assert.equal(json.body.approve.cli, `warden reviews approve ${id}`);

  const slack = await until(() => delivered.find((d) => d.path === '/slack' && d.event === 'review.created' && d.body.text.includes(id)));
  assert.equal(typeof slack.body.text, 'string');
  assert.ok(Array.isArray(slack.body.blocks) && slack.body.blocks.length >= 2);
  assert.match(JSON.stringify(slack.body.blocks), /DELETE FROM pg_temp\.nothing_here/);
  // the message links to the review's page in the web console
  assert.ok(JSON.stringify(slack.body.blocks).includes(`<https://warden.example.com/reviews/${id}|Open in the console>`));

  await t.api(bob, 'POST', `/api/v1/reviews/${id}/approve`, { comment: 'fine' });
  const approved = await until(() => delivered.find((d) => d.path === '/json' && d.event === 'review.approved' && d.body.review.id === id));
  assert.equal(approved.body.actor, 'bob');
  assert.equal(approved.body.comment, 'fine');
  assert.equal(approved.body.review.status, 'approved');
  assert.equal(refusedBadSignature, 0);
});

test('a held command leaves in a webhook masked by the connection\'s masker: secrets in literals do not reach the chat', async () => {
  const alice = await t.token(['dev'], 'alice');
  const secret = "DELETE FROM pg_temp.nothing_here_too -- card 4111 1111 1111 1111, mail ceo@example.com";
  const held = await psql(t.pgPort, 'rv-hooks', alice, ['-c', secret]);
  const id = reviewIdOf(held.stderr);
  const json = await until(() => delivered.find((d) => d.path === '/json' && d.event === 'review.created' && d.body.review.id === id));
  const slack = await until(() => delivered.find((d) => d.path === '/slack' && d.event === 'review.created' && d.body.text.includes(id)));
  for (const body of [JSON.stringify(json.body), JSON.stringify(slack.body)]) {
    assert.doesNotMatch(body, /4111 1111 1111 1111|ceo@example\.com/);
    assert.match(body, /DELETE FROM pg_temp\.nothing_here_too/);
  }
  // The review itself keeps the exact command: approval is bound to it.
  const [created] = (await t.events('review.created')).filter((e) => e.data.reviewId === id);
  assert.equal(created!.data.command, secret);
});
