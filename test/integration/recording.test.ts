// Durable recording: a command's record is stored before the command reaches the
// target; when it cannot be stored, the command does not run. Results are recorded
// with their rows up to the cap, noting truncation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';

let t: TestGateway;
let token: string;
const table = `warden_rec_${process.pid}`;
const direct = (sql: string) => run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', '-c', sql]);

before(async () => {
  await direct(`CREATE TABLE ${table} (id int)`);
  t = await startTestGateway({ connections: [localPostgres('rec')], gateway: { recording: { mode: 'strict', maxRows: 5, maxBytes: 1 << 20 } } });
  token = await t.token(['dev'], 'recorder');
});
after(async () => {
  await t.close();
  await direct(`DROP TABLE IF EXISTS ${table}`);
});

const client = async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'rec', password: token, database: 'rec' });
  await c.connect();
  return c;
};

async function eventsOf(identity: string) {
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 100 });
  const out = [];
  for (const s of sessions.filter((x) => x.identityName === identity)) out.push(...(await t.gw.services.getSession(s.id))!.events);
  return out.sort((a, b) => a.seq - b.seq);
}

test('each command is recorded with identity before its result, results capped with truncation noted', async () => {
  const c = await client();
  await c.query('SELECT generate_series(1, 12) AS n');
  await c.query(`INSERT INTO ${table} VALUES ($1)`, [7]);
  await c.end();
  const ev = await eventsOf('recorder');
  const cmds = ev.filter((e) => e.type === 'command');
  assert.equal(cmds.length, 2);
  assert.equal(cmds[0]!.actor, 'recorder');
  const res = ev.filter((e) => e.type === 'result');
  assert.equal(res[0]!.data.rowCount, 12);
  assert.equal((res[0]!.data.rows as unknown[]).length, 5);
  assert.equal(res[0]!.data.truncated, true);
  assert.deepEqual(res[0]!.data.columns, [{ name: 'n', type: 23 }]);
  assert.equal(res[1]!.data.tag, 'INSERT 0 1');
  assert.deepEqual(cmds[1]!.data.params, ['7']);
  for (const r of res) {
    const cmd = cmds.find((x) => x.data.commandId === r.data.commandId)!;
    assert.ok(cmd.seq < r.seq, 'command recorded before its result');
  }
});

test('when the record cannot be stored, the command does not reach the target', async () => {
  const c = await client();
  // Break the store under the running gateway: recording now fails.
  await t.gw.services.audit.close();
  await assert.rejects(c.query(`INSERT INTO ${table} VALUES (666)`), /not run because it could not be recorded/);
  await c.end().catch(() => {});
  const n = await direct(`SELECT count(*) FROM ${table} WHERE id = 666`);
  assert.equal(n.stdout.trim(), '0');
});
