// The MCP server over Streamable HTTP, driven by the SDK's own client against a gateway and
// the real Postgres: discovery, listing, describing, a masked SELECT, a blocked DROP, a review
// approved by someone else that then runs once, a client without elicitation that gets no
// execution, a caller without access, an expired token and a bad Origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';

const table = `mcp_t_${randomBytes(4).toString('hex')}`;
let t: TestGateway;
let dev: string;
const direct = () => new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });

before(async () => {
  const c = direct();
  await c.connect();
  await c.query(`CREATE TABLE ${table} (id int primary key, name text, email text)`);
  await c.query(`INSERT INTO ${table} VALUES (1, 'Ann', 'ann@example.com'), (2, 'Bob', 'bob@example.org')`);
  await c.end();
  t = await startTestGateway({
    connections: [localPostgres('db', { access: { groups: ['dev', 'readers'] }, description: 'test database' }), localPostgres('secret-db', { access: { groups: ['ops'] } })],
    rules: [
      { name: 'readers-read-only', match: { groups: ['readers'], categories: ['write', 'ddl', 'admin'] }, action: 'block' },
      { name: 'no-drops', match: { kinds: ['drop'] }, action: 'block', message: 'dropping tables is not allowed' },
      { name: 'deletes', match: { kinds: ['delete'] }, action: 'review', review: { groups: ['dba'] } },
    ],
  });
  dev = await t.token(['dev'], 'agent-1');
});
after(async () => {
  await t?.close();
  const c = direct();
  await c.connect();
  await c.query(`DROP TABLE IF EXISTS ${table}`);
  await c.end();
});

async function connect(token: string, capabilities: Record<string, unknown> = {}): Promise<Client> {
  // 'auto' negotiates the newest revision (2026-07-28) when the server offers it, as
  // elicitation over stateless HTTP needs; without capabilities the default era is kept.
  const client = new Client({ name: 'test', version: '1' }, { capabilities, ...(Object.keys(capabilities).length ? { versionNegotiation: { mode: 'auto' as const } } : {}) });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}
const textOf = (r: { content?: unknown }) => ((r.content as { type: string; text: string }[]) ?? []).map((c) => c.text).join('\n');

test('protected-resource metadata and a 401 challenge that points to it', async () => {
  const res = await fetch(`${t.httpUrl}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 401);
  const m = /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '');
  assert.ok(m, res.headers.get('www-authenticate') ?? 'no header');
  const meta = (await (await fetch(m[1]!)).json()) as { resource: string };
  assert.equal(meta.resource, `${t.httpUrl}/mcp`);
  assert.equal((await fetch(`${t.httpUrl}/.well-known/oauth-protected-resource`)).status, 200);
});

test('a bad Origin gets 403; a loopback one is served', async () => {
  const init = (origin: string) => ({ method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', origin, authorization: `Bearer ${dev}` }, body: '{}' });
  assert.equal((await fetch(`${t.httpUrl}/mcp`, init('https://evil.example'))).status, 403);
  assert.notEqual((await fetch(`${t.httpUrl}/mcp`, init('http://localhost:3000'))).status, 403);
});

test('list, describe, and a masked SELECT in text and structured content', async () => {
  const c = await connect(dev);
  try {
    const tools = await c.listTools();
    assert.deepEqual(tools.tools.map((x) => x.name).sort(), ['describe_connection', 'explain', 'list_connections', 'request_access', 'review_status', 'run', 'wait_for_review']);
    // The run tool's annotations follow the caller's rules: TRUNCATE is allowed for dev.
    const run = tools.tools.find((x) => x.name === 'run')!;
    assert.deepEqual([run.annotations?.readOnlyHint, run.annotations?.destructiveHint], [false, true]);
    const reader = await connect(await t.token(['readers'], 'reader-bot'));
    try {
      const rr = (await reader.listTools()).tools.find((x) => x.name === 'run')!;
      assert.deepEqual([rr.annotations?.readOnlyHint, rr.annotations?.destructiveHint], [true, false]);
    } finally {
      await reader.close();
    }
    const list = textOf(await c.callTool({ name: 'list_connections', arguments: {} }));
    assert.match(list, /^db \(postgres\): test database$/m);
    assert.doesNotMatch(list, /secret-db/);
    const d = textOf(await c.callTool({ name: 'describe_connection', arguments: { connection: 'db', detail: 'full', filter: table } }));
    assert.match(d, new RegExp(`public\\.${table}\\.email text`));
    const r = await c.callTool({ name: 'run', arguments: { connection: 'db', sql: `SELECT id, name, email FROM ${table} ORDER BY id` } });
    assert.ok(!r.isError, textOf(r));
    const s = r.structuredContent as { rows: string[][]; rowCount: number; maskedColumns: string[]; truncated: boolean };
    assert.equal(s.rowCount, 2);
    assert.deepEqual(s.maskedColumns, ['email']);
    assert.ok(!JSON.stringify(s).includes('ann@example.com'));
    assert.ok(!textOf(r).includes('ann@example.com'));
    assert.match(textOf(r), /untrusted data/);
    const plan = textOf(await c.callTool({ name: 'explain', arguments: { connection: 'db', sql: `SELECT * FROM ${table}` } }));
    assert.match(plan, /Seq Scan|Index/);
    // A second statement cannot ride along under EXPLAIN.
    const sneaky = await c.callTool({ name: 'explain', arguments: { connection: 'db', sql: `SELECT 1; DELETE FROM ${table}` } });
    assert.equal(sneaky.isError, true);
    assert.match(textOf(sneaky), /exactly one SQL statement/);
    const still = await c.callTool({ name: 'run', arguments: { connection: 'db', sql: `SELECT count(*) AS n FROM ${table}` } });
    assert.equal((still.structuredContent as { rows: unknown[][] }).rows[0]![0], '2');
  } finally {
    await c.close();
  }
});

test('a blocked DROP is a tool error that says what happened and nothing ran', async () => {
  const c = await connect(dev);
  try {
    const r = await c.callTool({ name: 'run', arguments: { connection: 'db', sql: `DROP TABLE ${table}` } });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /Blocked by Warden policy.*dropping tables is not allowed.*Nothing ran/s);
    const check = direct();
    await check.connect();
    assert.equal((await check.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 2);
    await check.end();
  } finally {
    await c.close();
  }
});

test('a held DELETE runs only after another identity approves, exactly once; no elicitation means no execution', async () => {
  const c = await connect(dev); // declares no elicitation capability
  const sql = `DELETE FROM ${table} WHERE id = 2`;
  try {
    const r = await c.callTool({ name: 'run', arguments: { connection: 'db', sql } });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /NOT RUN: Warden held this statement for human review (\S+)/);
    const id = /review (r\w+)/.exec(textOf(r))![1]!;
    const count = async () => {
      const k = direct();
      await k.connect();
      const n = (await k.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
      await k.end();
      return n;
    };
    assert.equal(await count(), 2);
    const status = await c.callTool({ name: 'review_status', arguments: { review: id } });
    assert.equal((status.structuredContent as { status: string }).status, 'pending');
    // the requester cannot approve; a dba can
    const self = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${dev}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(self.status, 403);
    const dba = await t.token(['dba'], 'dba-1');
    const ok = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${dba}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(ok.status, 200, await ok.text());
    const waited = await c.callTool({ name: 'wait_for_review', arguments: { review: id, timeout: 5 } });
    assert.equal((waited.structuredContent as { status: string }).status, 'approved');
    const ran = await c.callTool({ name: 'run', arguments: { connection: 'db', sql } });
    assert.ok(!ran.isError, textOf(ran));
    assert.equal(await count(), 1);
    const again = await c.callTool({ name: 'run', arguments: { connection: 'db', sql } });
    assert.equal(again.isError, true, 'a second run needs a new review');
    assert.match(textOf(again), /NOT RUN/);
  } finally {
    await c.close();
  }
});

test('a client with elicitation is shown the pending review, and still nothing runs before approval', async () => {
  const c = await connect(dev, { elicitation: { form: {} } });
  const asked: string[] = [];
  c.setRequestHandler('elicitation/create', async (req) => {
    asked.push(String((req.params as { message?: string }).message));
    return { action: 'accept', content: { seen: true } };
  });
  const sql = `DELETE FROM ${table} WHERE id = 1`;
  const direct1 = direct();
  await direct1.connect();
  try {
    const r = await c.callTool({ name: 'run', arguments: { connection: 'db', sql } });
    assert.equal(asked.length, 1, 'the user was asked once');
    const id = /review (r\w+)/.exec(asked[0]!)![1]!;
    assert.match(asked[0]!, /must approve it: warden reviews approve/);
    // Accepting the prompt is not an approval: the statement was held, not run.
    assert.equal(r.isError, true);
    assert.match(textOf(r), /NOT RUN/);
    assert.equal((await direct1.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = 1`)).rows[0].n, 1);
    const dba = await t.token(['dba'], 'dba-2');
    const ok = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${dba}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(ok.status, 200, await ok.text());
    const ran = await c.callTool({ name: 'run', arguments: { connection: 'db', sql } });
    assert.ok(!ran.isError, textOf(ran));
    assert.equal((await direct1.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = 1`)).rows[0].n, 0);
  } finally {
    await direct1.end();
    await c.close();
  }
});

test('a caller without access to a connection gets a tool error naming request_access', async () => {
  const c = await connect(dev);
  try {
    const r = await c.callTool({ name: 'run', arguments: { connection: 'secret-db', sql: 'SELECT 1' } });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /No access to "secret-db".*request_access/s);
  } finally {
    await c.close();
  }
});

test('an expired token is refused with 401 before any tool runs', async () => {
  const expired = await t.token(['dev'], 'short', 1);
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(connect(expired), /401|Unauthorized|invalid or expired/i);
});

test('each MCP connection is a recorded Warden session tied to the caller', async () => {
  const sessions = await t.gw.services.listSessions({ limit: 100, connection: 'db' });
  assert.ok(sessions.length > 0);
  assert.ok(sessions.every((s) => s.identityName === 'agent-1'), JSON.stringify(sessions.map((s) => s.identityName)));
  assert.ok(sessions.every((s) => s.protocol === 'mcp'), 'the record names the real front door');
});

test('a network client cannot pass itself off as the MCP server: its session is recorded as postgres', async () => {
  const token = await t.token(['dev'], 'posing-client');
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'db', password: token, database: 'db', application_name: 'warden-mcp 0123456789ab' });
  await c.connect();
  await c.query('SELECT 1');
  await c.end();
  await t.gw.services.audit.flush();
  const mine = (await t.gw.services.listSessions({ limit: 100, connection: 'db' })).filter((s) => s.identityName === 'posing-client');
  assert.equal(mine.length, 1);
  assert.equal(mine[0]!.protocol, 'postgres');
});
