// The http door records a request once, as its session, without an auth.ok per request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { eventsOf } from '../helpers/records.ts';

const KEY = 'upstream-key-0123456789';
let t: TestGateway;
let target: Server;
let port = 0;
let accepted = 0;
const seen: IncomingHttpHeaders[] = [];

before(async () => {
  target = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      const close = req.url === '/close';
      res.writeHead(200, { 'content-type': 'application/json', ...(close ? { connection: 'close' } : {}) });
      res.end(JSON.stringify({ ok: true, url: req.url }));
    });
  });
  target.keepAliveTimeout = 60_000;
  target.on('connection', () => accepted++);
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', () => resolve()));
  port = (target.address() as { port: number }).port;
  t = await startTestGateway({
    connections: [{ name: 'api', type: 'http', url: `http://127.0.0.1:${port}`, credential: { header: 'x-api-key', value: KEY }, access: { groups: ['dev'] } }],
  });
});
after(async () => {
  await t?.close();
  target?.closeAllConnections();
  await new Promise((r) => target?.close(r));
});

async function call(token: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${t.httpUrl}/proxy/api${path}`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json', ...headers }, body: '{"q":1}' });
  return { status: res.status, body: await res.text() };
}

test('each request is recorded once as a session naming the caller; no auth.ok event per request', async () => {
  const token = await t.token(['dev'], 'pool-audit');
  for (let i = 0; i < 3; i++) assert.equal((await call(token, `/r${i}`)).status, 200);
  const events = await eventsOf(t, 'pool-audit');
  const starts = events.filter((e) => e.type === 'session.start');
  assert.equal(starts.length, 3);
  for (const s of starts) assert.equal((s.data as { protocol: string }).protocol, 'http');
  const rows = await t.gw.services.store.db.selectFrom('events').select(['data']).where('type', '=', 'auth.ok').where('actor', '=', 'pool-audit').execute();
  assert.deepEqual(rows, []);
});
