// Faults of the remote-agent path, with the agent as its own OS process: killed in the
// middle of a query, restarted, and the gateway restarted under a running agent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, type GatewayHandle } from '../../src/gateway/gateway.ts';
import { localPostgres } from '../helpers/gateway.ts';
import { psql, run } from '../helpers/clients.ts';
import { spawnAgent, eventually, isConnected, type AgentProcess } from './agent-harness.ts';

// Killed processes close their sockets, so no test here waits on a heartbeat to see a peer go;
// a short one only closed a live tunnel when the loaded suite stalled a process for 1.5 s
// (3 missed at 500 ms: "no answer to 3 heartbeats", seen in CI). 3 s tolerates a 9 s stall.
process.env.WARDEN_TUNNEL_HEARTBEAT_MS = '3000';

const dir = mkdtempSync(join(tmpdir(), 'warden-agent-faults-'));
let gw: GatewayHandle;
let httpPort = 0;
let adminToken: string;
let token: string;
let agentToken: string;
let agent: AgentProcess | null = null;

// The same data dir and HTTP port across restarts, as a real redeploy would keep them.
const start = () =>
  startGateway(
    parseConfig({
      gateway: { dataDir: join(dir, 'data'), listen: { http: `127.0.0.1:${httpPort}`, postgres: '127.0.0.1:0' }, logLevel: 'silent' },
      connections: [localPostgres('remote', { agent: 'site-a' })],
    }),
    { log: pino({ level: 'silent' }) },
  );
const url = () => `http://127.0.0.1:${httpPort}`;
const query = (sql: string) => psql(gw.postgres!.port, 'remote', token, ['-tAc', sql]);

before(async () => {
  gw = await start();
  httpPort = Number(new URL(gw.httpUrl).port);
  adminToken = gw.bootstrapToken!;
  token = (await gw.services.createToken({ name: 'alice', groups: ['dev'], ttlMs: null }, 'test')).token;
  agentToken = (await gw.services.createToken({ name: 'site-a', groups: ['warden-agent'], ttlMs: null }, 'test')).token;
  agent = spawnAgent(url(), agentToken);
  await agent.waitFor(/agent connected to the gateway/);
});
after(async () => {
  await agent?.kill('SIGKILL');
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
});

test('agent killed mid-query: the client gets a clear error and the session ends with that reason', async () => {
  const marker = `agent_kill_${process.pid}`;
  const running = query(`SELECT pg_sleep(60) AS ${marker}`);
  // Kill only once the query is really running on the target.
  // A query that ends before it is seen running puts its own error in the wait's failure
  // (this test failed under the full parallel suite, three runs of three, with the timeout alone).
  let ended: string | null = null;
  void running.then((r) => (ended = `exit ${r.code}: ${r.stderr.trim()}`));
  await eventually('the query to run on the target', async () => {
    if (ended !== null) throw new Error(`the query ended before it was seen running (${ended})`);
    const r = await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-tAc', `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%AS ${marker}' AND pid <> pg_backend_pid()`]);
    return r.stdout.trim() === '1';
  });
  await agent!.kill('SIGKILL');
  const r = await running;
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /agent "site-a" disconnected/);
  const s = await eventually('the session to be recorded as ended', async () => {
    const rows = await gw.services.listSessions({ limit: 5, connection: 'remote' });
    return rows.find((x) => x.endReason && /agent "site-a" disconnected/.test(x.endReason));
  });
  assert.match(s.endReason!, /agent "site-a" disconnected/);
  // The agent is gone, so new sessions fail fast with a clear error.
  await eventually('the gateway to see the agent gone', async () => !(await isConnected(url(), adminToken, 'site-a')));
  const offline = await query('SELECT 1');
  assert.match(offline.stderr, /agent "site-a" is not connected/);
});

test('agent restarted: new sessions work within seconds', async () => {
  agent = spawnAgent(url(), agentToken);
  await agent.waitFor(/agent connected to the gateway/);
  const r = await eventually('a session through the new agent', async () => {
    const q = await query('SELECT 40 + 2');
    return q.code === 0 && q;
  }, 10_000);
  assert.equal(r.stdout.trim(), '42');
});

test('gateway restarted: the agent reconnects by itself', async () => {
  const before = agent!.output().match(/agent connected to the gateway/g)!.length;
  await gw.close();
  gw = await start();
  await eventually('the agent to reconnect', async () => agent!.output().match(/agent connected to the gateway/g)!.length > before, 20_000);
  await eventually('the agent to be connected', () => isConnected(url(), adminToken, 'site-a'));
  const r = await query('SELECT 7 * 6');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '42');
  assert.equal(agent!.child.exitCode, null, 'the same agent process carried on');
});
