// The console's Audit page reads the last verify the gateway kept (GET /api/v1/console/audit)
// and walks the chain only when asked (POST .../verify): a visit costs one row read however
// big the log. What it shows is honest: when it ran, how far it reached, how many events
// came since; a tampered event is found by the next walk asked for, and /api/v1/audit/verify
// (the CLI's) always walks afresh. Auditors only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';

let t: TestGateway;
let auditor: string;
before(async () => {
  t = await startTestGateway({ connections: [localPostgres()] });
  auditor = await t.token(['auditor'], 'audrey');
});
after(async () => {
  await t.close();
});

async function call(token: string, method: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(t.httpUrl + path, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function append(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await t.gw.services.audit.append({ type: 'test.filler', sessionId: null, actor: 'test', data: { i } });
  await t.gw.services.audit.flush();
}

test('a visit walks nothing; a walk on demand is kept with its time and position; events since are counted', async () => {
  await append(50);
  // someone without the auditor role sees nothing and starts nothing
  const dev = await t.token(['dev'], 'dev');
  assert.equal((await call(dev, 'GET', '/api/v1/console/audit')).status, 403);
  assert.equal((await call(dev, 'POST', '/api/v1/console/audit/verify')).status, 403);
  assert.equal(t.gw.services.auditChecks.latest, null, 'a refused caller started no walk');

  const first = await call(auditor, 'GET', '/api/v1/console/audit');
  assert.equal(first.status, 200);
  assert.equal(first.body.last, null, 'never verified: said so, not walked');
  assert.equal(t.gw.services.auditChecks.latest, null, 'the visit walked nothing');
  assert.ok(first.body.chainEnd >= 50);

  const run = await call(auditor, 'POST', '/api/v1/console/audit/verify');
  assert.equal(run.status, 200);
  assert.equal(run.body.last.result.ok, true, JSON.stringify(run.body.last.result));
  assert.ok(run.body.last.result.lastSeq >= 50);
  assert.ok(Date.parse(run.body.last.at) > 0);
  assert.equal(typeof run.body.last.durationMs, 'number');
  const kept = t.gw.services.auditChecks.latest!;

  await append(7);
  const later = await call(auditor, 'GET', '/api/v1/console/audit');
  assert.equal(later.body.last.at, kept.at, 'the kept result, not a new walk');
  assert.equal(t.gw.services.auditChecks.latest, kept);
  assert.equal(later.body.chainEnd, later.body.last.result.lastSeq + later.body.eventsSince);
  assert.ok(later.body.eventsSince >= 7, `events since: ${later.body.eventsSince}`);
});

test('concurrent walks asked for from the console are one walk', async () => {
  const all = await Promise.all([1, 2, 3, 4].map(() => call(auditor, 'POST', '/api/v1/console/audit/verify')));
  assert.equal(new Set(all.map((r) => r.body.last.at)).size, 1);
});

test('a tampered event: the kept result says when it was taken; the next walk asked for finds it, as does the CLI route', async () => {
  await call(auditor, 'POST', '/api/v1/console/audit/verify');
  const before = t.gw.services.auditChecks.latest!;
  assert.equal(before.result.ok, true);
  const row = await t.gw.services.store.db.selectFrom('events').select(['seq', 'data']).where('type', '=', 'test.filler').orderBy('seq').executeTakeFirstOrThrow();
  await t.gw.services.store.db.updateTable('events').set({ data: JSON.stringify({ i: 999 }) }).where('seq', '=', row.seq).execute();

  const shown = await call(auditor, 'GET', '/api/v1/console/audit');
  assert.equal(shown.body.last.at, before.at, 'the page shows the last walk with its time, not a fresh verdict');
  const walked = await call(auditor, 'POST', '/api/v1/console/audit/verify');
  assert.equal(walked.body.last.result.ok, false);
  assert.equal(walked.body.last.result.brokenSeq, Number(row.seq));
  const cli = await call(auditor, 'GET', '/api/v1/audit/verify');
  assert.equal(cli.body.ok, false);
  assert.equal(cli.body.brokenSeq, Number(row.seq));
  // restored, so the gateway closes cleanly
  await t.gw.services.store.db.updateTable('events').set({ data: row.data }).where('seq', '=', row.seq).execute();
});
