// A budget shared by two gateway replicas on one Postgres store: concurrent streams sent to
// both never spend more than the connection's budget, and the refused never reach the target.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { run } from '../helpers/clients.ts';

const KEY = 'sk-upstream-replicas-0123456789';
const storeDb = `warden_budget_${randomBytes(4).toString('hex')}`;
let a: TestGateway;
let b: TestGateway;
let slow: FakeLlm;
// replicas share their keys (one audit signing key for one chain), as a deployment mounts them
const shared = mkdtempSync(join(tmpdir(), 'warden-replicas-'));

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${storeDb}`]);
  slow = await startFakeLlm({ apiKey: KEY, text: Array.from({ length: 50 }, () => 'w '), eventDelayMs: 20 });
  const replica = () =>
    startTestGateway({
      connections: [{ name: 'capped', type: 'http', url: slow.url, credential: { header: 'x-api-key', value: KEY }, access: { groups: ['ai'] }, budget: { tokensPerDay: 300 } }],
      gateway: { store: `postgres://postgres@127.0.0.1:5432/${storeDb}`, dataDir: join(shared, 'data') },
    });
  a = await replica();
  b = await replica();
});
after(async () => {
  await a?.close();
  await b?.close();
  await slow?.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${storeDb} WITH (FORCE)`]);
  rmSync(shared, { recursive: true, force: true });
});

test('streams racing through two replicas hold one budget: at most what fits gets through, the rest get 429 and never reach the target', async () => {
  const token = await a.token(['ai'], 'replica-racer');
  const ask = { model: 'claude-test', max_tokens: 60, messages: [{ role: 'user' as const, content: 'count for me' }] };
  const client = (g: TestGateway) => new Anthropic({ apiKey: token, baseURL: `${g.httpUrl}/proxy/capped`, maxRetries: 0 });
  // each holds ~34 + 60; the target answers 12 + 50, so eight counted afterwards would spend 496
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => client(i % 2 ? a : b).messages.stream(ask).finalMessage()));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  assert.ok(ok >= 1 && ok <= 3, `${ok} got through`);
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { status?: number }).status, 429);
  assert.equal(slow.seen.length, ok);
  let rows = await a.gw.services.usage.list({ connection: 'capped' });
  for (let i = 0; i < 500 && rows.some((r) => r.reserved > 0); i++) {
    await new Promise((r) => setTimeout(r, 20));
    rows = await a.gw.services.usage.list({ connection: 'capped' });
  }
  const [row] = rows;
  assert.deepEqual([row!.reserved, row!.requests, row!.refused, row!.totalTokens], [0, ok, 8 - ok, ok * 62]);
  // the other replica reads the same ledger
  assert.deepEqual(await b.gw.services.usage.list({ connection: 'capped' }), rows);
});
