// The MCP tools on a MySQL connection (the machine's MariaDB), driven by the SDK's client:
// the same in-process pipeline as for Postgres, with the MySQL engine's catalogue query,
// its classifier for explain, masking reported as data, refusals and the target's errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { commandsOf } from '../helpers/records.ts';

const db = `mcp_my_${randomBytes(4).toString('hex')}`;
let t: TestGateway;
let client: Client;
const direct = () => mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });

before(async () => {
  const c = await direct();
  await c.query(`CREATE DATABASE ${db}`);
  await c.query(`CREATE TABLE ${db}.people (id int primary key, name varchar(40), email varchar(80))`);
  await c.query(`INSERT INTO ${db}.people VALUES (1, 'Ann', 'ann@example.com'), (2, 'Bob', 'bob@example.org')`);
  await c.end();
  t = await startTestGateway({
    connections: [localMysql('shop', { database: db })],
    rules: [{ name: 'no-drops', match: { kinds: ['drop'] }, action: 'block', message: 'dropping tables is not allowed' }],
  });
  client = new Client({ name: 'test', version: '1' });
  const token = await t.token(['dev'], 'my-agent');
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
});
after(async () => {
  await client?.close();
  await t?.close();
  const c = await direct();
  await c.query(`DROP DATABASE IF EXISTS ${db}`);
  await c.end();
});

const textOf = (r: { content?: unknown }) => ((r.content as { type: string; text: string }[]) ?? []).map((c) => c.text).join('\n');

test('describe_connection reads the MySQL catalogue; run returns masked rows and says which columns', async () => {
  assert.match(textOf(await client.callTool({ name: 'list_connections', arguments: {} })), /^shop \(mysql\)/m);
  const full = textOf(await client.callTool({ name: 'describe_connection', arguments: { connection: 'shop', detail: 'full', filter: 'PEOPLE' } }));
  assert.match(full, new RegExp(`${db}\\.people\\.email varchar\\(80\\)`));
  assert.match(full, new RegExp(`${db}\\.people\\.id int\\(11\\) NOT NULL`));
  const summary = textOf(await client.callTool({ name: 'describe_connection', arguments: { connection: 'shop' } }));
  assert.match(summary, new RegExp(`${db}\\.people: id int\\(11\\), name varchar\\(40\\), email varchar\\(80\\)`));

  const r = await client.callTool({ name: 'run', arguments: { connection: 'shop', sql: 'SELECT id, name, email FROM people ORDER BY id' } });
  assert.ok(!r.isError, textOf(r));
  const s = r.structuredContent as { rows: string[][]; rowCount: number; maskedColumns: string[] };
  assert.equal(s.rowCount, 2);
  assert.deepEqual(s.rows.map((row) => row.slice(0, 2)), [['1', 'Ann'], ['2', 'Bob']]);
  assert.deepEqual(s.maskedColumns, ['email']);
  assert.doesNotMatch(JSON.stringify(r), /ann@example\.com|bob@example\.org/);
});

test('a blocked DROP is refused as data (nothing ran); a target error names its SQLSTATE', async () => {
  const blocked = await client.callTool({ name: 'run', arguments: { connection: 'shop', sql: 'DROP TABLE people' } });
  assert.equal(blocked.isError, true);
  assert.match(textOf(blocked), /Blocked by Warden policy on "shop": dropping tables is not allowed\. Nothing ran/);
  const c = await direct();
  const [rows] = await c.query(`SELECT count(*) AS n FROM ${db}.people`);
  await c.end();
  assert.equal((rows as { n: number }[])[0]!.n, 2);
  const err = await client.callTool({ name: 'run', arguments: { connection: 'shop', sql: 'SELECT nope FROM people' } });
  assert.equal(err.isError, true);
  assert.match(textOf(err), /\(code 42S22\): Unknown column 'nope'/);
});

test('explain runs EXPLAIN on the MySQL grammar, and one statement only', async () => {
  const plan = textOf(await client.callTool({ name: 'explain', arguments: { connection: 'shop', sql: 'SELECT * FROM people WHERE id = 1' } }));
  assert.match(plan, /people/);
  const sneaky = await client.callTool({ name: 'explain', arguments: { connection: 'shop', sql: 'SELECT 1; DROP TABLE people' } });
  assert.equal(sneaky.isError, true);
  assert.match(textOf(sneaky), /exactly one SQL statement/);
});

test('the statements are one recorded session of the caller, whose front door is mcp', async () => {
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 20, connection: 'shop' });
  assert.ok(sessions.length >= 1);
  assert.ok(sessions.every((s) => s.identityName === 'my-agent' && s.protocol === 'mcp'), JSON.stringify(sessions));
  const cmds = await commandsOf(t, 'my-agent');
  const drop = cmds.find((c) => c.data.text === 'DROP TABLE people');
  assert.equal(drop?.data.decision, 'block');
});

test('a describe filter is data whatever the session\'s sql_mode: a quote in it cannot end the string (NO_BACKSLASH_ESCAPES)', async () => {
  // The agent's own session reads backslashes as characters from now on, as a session may.
  const set = await client.callTool({ name: 'run', arguments: { connection: 'shop', sql: "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'" } });
  assert.ok(!set.isError, textOf(set));
  const sneaky = await client.callTool({ name: 'describe_connection', arguments: { connection: 'shop', detail: 'names', filter: "zz\\' OR 1=1 OR table_name LIKE '" } });
  assert.equal(textOf(sneaky), 'No tables match.', textOf(sneaky));
  // the filter still works as a filter
  assert.match(textOf(await client.callTool({ name: 'describe_connection', arguments: { connection: 'shop', detail: 'names', filter: 'peop' } })), new RegExp(`${db}\\.people`));
  await client.callTool({ name: 'run', arguments: { connection: 'shop', sql: "SET SESSION sql_mode = DEFAULT" } });
});
