// An open session does not outlive its access token: the first command after the
// token's expiry is refused and ends the session, with the reason on record
// (auth.endSessionsOnExpiry, default true). With it off, the session lives on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';

const open: TestGateway[] = [];
after(async () => {
  for (const t of open) await t.close();
});

async function sessionWithShortToken(auth?: Record<string, unknown>) {
  const t = await startTestGateway({ connections: [localPostgres()], ...(auth ? { auth } : {}) });
  open.push(t);
  const token = await t.token(['dev'], 'short-lived', 1500);
  const client = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'local', password: token, database: 'x' });
  await client.connect();
  client.on('error', () => {});
  assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  await new Promise((r) => setTimeout(r, 1700));
  return { t, client, token };
}

test('the first command after the token expired is refused and ends the session', async () => {
  const { t, client } = await sessionWithShortToken();
  await assert.rejects(client.query('SELECT 2'), /access token of this session expired at \d{4}-\d\d-\d\dT.*reconnect with a fresh token/);
  await assert.rejects(client.query('SELECT 3'), /expired/);
  await client.end().catch(() => {});
  await t.gw.services.audit.flush();
  const [s] = await t.gw.services.listSessions({ limit: 5 });
  const events = (await t.gw.services.getSession(s!.id))!.events;
  const commands = events.filter((e) => e.type === 'command');
  assert.deepEqual(commands.map((e) => e.data.decision), ['allow', 'block']);
  assert.match(String(commands[1]!.data.reason), /expired/);
  assert.equal(events.find((e) => e.type === 'session.end')!.data.reason, 'credential expired');
});

test('auth.endSessionsOnExpiry: false lets an open session outlive its token; new ones are still refused', async () => {
  const { t, client, token } = await sessionWithShortToken({ endSessionsOnExpiry: false });
  assert.equal((await client.query('SELECT 2 AS two')).rows[0].two, 2);
  await client.end();
  const again = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'local', password: token, database: 'x' });
  await assert.rejects(again.connect(), /password authentication failed/);
});
