// The whole gateway on a Postgres store (gateway.store: postgres://...): sessions are
// recorded there, the replay reads them back, and the chain verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql, run } from '../helpers/clients.ts';

const storeDb = `warden_store_${randomBytes(4).toString('hex')}`;
let t: TestGateway;

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${storeDb}`]);
  t = await startTestGateway({ connections: [localPostgres('pgstore')], gateway: { store: `postgres://postgres@127.0.0.1:5432/${storeDb}` } });
});
after(async () => {
  await t?.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${storeDb} WITH (FORCE)`]);
});

test('a psql session is recorded in the Postgres store and the chain verifies', async () => {
  const token = await t.token(['dev'], 'pg-store-user');
  const r = await psql(t.pgPort, 'pgstore', token, ['-A', '-t', '-c', 'SELECT 40 + 2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '42');
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 10 });
  const s = sessions.find((x) => x.identityName === 'pg-store-user')!;
  assert.ok(s);
  const detail = (await t.gw.services.getSession(s.id))!;
  assert.deepEqual(detail.events.map((e) => e.type).slice(0, 3), ['session.start', 'command', 'result']);
  const rows = await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', storeDb, '-A', '-t', '-c', `SELECT count(*) FROM events WHERE session_id = '${s.id}'`]);
  assert.ok(Number(rows.stdout.trim()) >= 3, rows.stdout);
  const v = await t.gw.services.verifyAudit();
  assert.equal(v.ok, true, v.problem);
});
