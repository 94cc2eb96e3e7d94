// `warden mcp` (stdio) driven by the SDK's stdio client: the bridge forwards to the
// gateway's /mcp with WARDEN_TOKEN, so the same policy applies: a masked SELECT, a blocked
// DROP, and a review that does not run without approval.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';

const BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));
let t: TestGateway;
let client: Client;

before(async () => {
  t = await startTestGateway({
    connections: [localPostgres('db', { access: { groups: ['dev'] } })],
    rules: [
      { name: 'no-drops', match: { kinds: ['drop'] }, action: 'block', message: 'dropping tables is not allowed' },
      { name: 'writes', match: { kinds: ['insert', 'update', 'delete'] }, action: 'review', review: { groups: ['dba'] } },
    ],
  });
  const token = await t.token(['dev'], 'stdio-agent');
  client = new Client({ name: 'stdio-test', version: '1' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--gateway', t.httpUrl], env: { ...process.env, WARDEN_TOKEN: token } as Record<string, string>, stderr: 'pipe' }));
});
after(async () => {
  await client?.close();
  await t?.close();
});

const textOf = (r: { content?: unknown }) => ((r.content as { text: string }[]) ?? []).map((c) => c.text).join('\n');

test('stdio: tools, a masked SELECT, a blocked DROP and a held write', async () => {
  assert.ok((await client.listTools()).tools.some((x) => x.name === 'run'));
  const r = await client.callTool({ name: 'run', arguments: { connection: 'db', sql: "SELECT 'carol@example.com' AS email, 1 AS n" } });
  assert.ok(!r.isError, textOf(r));
  assert.ok(!JSON.stringify(r).includes('carol@example.com'));
  assert.deepEqual((r.structuredContent as { maskedColumns: string[] }).maskedColumns, ['email']);
  const drop = await client.callTool({ name: 'run', arguments: { connection: 'db', sql: 'DROP TABLE IF EXISTS nothing_here' } });
  assert.equal(drop.isError, true);
  assert.match(textOf(drop), /Blocked by Warden policy/);
  const held = await client.callTool({ name: 'run', arguments: { connection: 'db', sql: 'DELETE FROM pg_temp.none WHERE false' } });
  assert.match(textOf(held), /NOT RUN: Warden held this statement for human review/);
  const sessions = await t.gw.services.listSessions({ limit: 10, connection: 'db' });
  assert.ok(sessions.length > 0 && sessions.every((s) => s.identityName === 'stdio-agent'));
});
