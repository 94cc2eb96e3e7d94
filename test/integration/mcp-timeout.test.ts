// Limits of what an agent runs. A statement past `gateway.mcp.statementTimeout` is stopped
// on the target (Postgres: a cancel through the door's cancel path; MySQL: KILL QUERY on a
// second session of the same caller), the agent is told, and its session goes on; ground
// truth: the target's own process list. A result past the row cap is kept to the cap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startTestGateway, localPostgres, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { commandsOf } from '../helpers/records.ts';

let t: TestGateway;
let client: Client;

before(async () => {
  t = await startTestGateway({ connections: [localPostgres('pg'), localMysql('my')], gateway: { mcp: { statementTimeout: '1s' } } });
  client = new Client({ name: 'test', version: '1' });
  const token = await t.token(['dev'], 'slow-agent');
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
});
after(async () => {
  await client?.close();
  await t?.close();
});

const textOf = (r: { content?: unknown }) => ((r.content as { type: string; text: string }[]) ?? []).map((c) => c.text).join('\n');

async function pgRunning(marker: string): Promise<number> {
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await c.connect();
  const r = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${marker}%' AND query NOT LIKE '%pg_stat_activity%'`);
  await c.end();
  return r.rows[0].n as number;
}

async function myRunning(marker: string): Promise<number> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  const [rows] = await c.query(`SELECT count(*) AS n FROM information_schema.processlist WHERE info LIKE '%${marker}%' AND info NOT LIKE '%processlist%'`);
  await c.end();
  return Number((rows as { n: number }[])[0]!.n);
}

for (const [connection, sleep, running] of [
  ['pg', (m: string) => `SELECT pg_sleep(30) AS ${m}`, pgRunning],
  ['my', (m: string) => `SELECT SLEEP(30) AS ${m}`, myRunning],
] as const) {
  test(`${connection}: a statement past the timeout is stopped on the target; the agent's session goes on`, async () => {
    const marker = `slow_${connection}_${process.pid}`;
    const started = Date.now();
    const r = await client.callTool({ name: 'run', arguments: { connection, sql: sleep(marker) } });
    assert.equal(r.isError, true, textOf(r));
    assert.match(textOf(r), /longer than 1000 ms/);
    assert.ok(Date.now() - started < 20_000, 'the agent was answered long before the statement would have ended');
    let left = await running(marker);
    for (let i = 0; i < 20 && left > 0; i++) {
      await new Promise((res) => setTimeout(res, 250));
      left = await running(marker);
    }
    assert.equal(left, 0, 'the target no longer runs the statement');
    const again = await client.callTool({ name: 'run', arguments: { connection, sql: 'SELECT 41 + 1 AS n' } });
    assert.ok(!again.isError, textOf(again));
    assert.deepEqual((again.structuredContent as { rows: string[][] }).rows, [['42']]);
  });
}

test('the MySQL stop is a KILL QUERY of the agent\'s own session, judged and recorded', async () => {
  const kills = (await commandsOf(t, 'slow-agent')).filter((c) => /^KILL QUERY \d+$/.test(String(c.data.text)));
  assert.equal(kills.length, 1);
  assert.equal(kills[0]!.data.decision, 'allow');
});

for (const [connection, sql] of [
  ['pg', 'SELECT g AS n FROM generate_series(1, 1200) g'],
  ['my', 'SELECT seq AS n FROM mysql.seq_1_to_1200'],
] as const) {
  test(`${connection}: a result past the row cap is counted whole and kept to the cap, said truncated`, async () => {
    const r = await client.callTool({ name: 'run', arguments: { connection, sql } });
    assert.ok(!r.isError, textOf(r));
    const s = r.structuredContent as { rows: string[][]; rowCount: number; truncated: boolean };
    assert.equal(s.rowCount, 1200);
    assert.equal(s.rows.length, 500);
    assert.equal(s.truncated, true);
    assert.deepEqual(s.rows[499], ['500']);
    assert.match(textOf(r), /TRUNCATED: showing 500 of 1200 rows/);
  });
}

test('a shared session is not closed as idle while a call queued on it still runs', async () => {
  const gw = await startTestGateway({ connections: [localPostgres('pg')], gateway: { mcp: { idleTimeout: '200ms' } } });
  const c = new Client({ name: 'test', version: '1' });
  try {
    const token = await gw.token(['dev'], 'busy-agent');
    await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    // The quick call ends while the slow one waits behind it on the same session.
    const [quick, slow] = await Promise.all([
      c.callTool({ name: 'run', arguments: { connection: 'pg', sql: 'SELECT 1 AS n' } }),
      c.callTool({ name: 'run', arguments: { connection: 'pg', sql: 'SELECT 2 AS n FROM pg_sleep(0.8)' } }),
    ]);
    assert.ok(!quick.isError, textOf(quick));
    assert.ok(!slow.isError, textOf(slow));
    assert.deepEqual((slow.structuredContent as { rows: string[][] }).rows, [['2']]);
  } finally {
    await c.close();
    await gw.close();
  }
});
