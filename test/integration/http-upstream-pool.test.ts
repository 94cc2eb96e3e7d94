// The http door keeps its connections to a target open and reuses them (upstream-pool.ts):
// ground truth is the target's own count of the TCP connections it accepted and the headers
// each request brought. A reused connection carries nothing of an earlier caller; a target that
// says `Connection: close` gets a new one; a stream that is not a socket (a remote agent's
// tunnel) serves one request. And the door records a request once, as its session, without an
// auth.ok per request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { eventsOf } from '../helpers/records.ts';
import { UpstreamPool } from '../../src/protocols/http/upstream-pool.ts';
import { httpConnectionSchema } from '../../src/config/schema.ts';

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

test('requests of two callers one after the other go over one connection to the target, each with only its own headers and the injected key', async () => {
  const [alice, bob] = [await t.token(['dev'], 'pool-alice'), await t.token(['dev'], 'pool-bob')];
  const before = accepted;
  const from = seen.length;
  assert.equal((await call(alice, '/a', { 'x-caller': 'alice' })).status, 200);
  assert.equal((await call(bob, '/b')).status, 200);
  assert.equal((await call(alice, '/c')).status, 200);
  assert.equal(accepted - before, 1, 'one TCP connection for three sequential requests');
  const got = seen.slice(from);
  assert.deepEqual(got.map((h) => [h['x-api-key'], h['x-caller'] ?? null]), [[KEY, 'alice'], [KEY, null], [KEY, null]]);
});

test('a target that answers Connection: close gets a new connection for the next request', async () => {
  const token = await t.token(['dev'], 'pool-close');
  assert.equal((await call(token, '/warm')).status, 200);
  const before = accepted;
  assert.equal((await call(token, '/close')).status, 200); // on the pooled connection, which then closes
  const next = await call(token, '/after');
  assert.equal(next.status, 200, next.body);
  assert.equal(accepted - before, 1);
});

test('a stream that is not a socket (a remote agent tunnel) serves one request and is closed, never pooled', async () => {
  const conn = httpConnectionSchema.parse({ name: 'tunnelled', type: 'http', url: `http://127.0.0.1:${port}`, access: { groups: ['dev'] } });
  const pool = new UpstreamPool(async (c) => {
    const s = connect(c.port, c.host);
    await new Promise((r) => s.once('connect', r));
    return new NotASocket(s);
  });
  const get = (path: string) => new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: pool.agent(conn) }, (res) => (res.resume(), res.on('end', () => resolve(res.statusCode ?? 0))));
    req.on('error', reject);
    req.end();
  });
  const before = accepted;
  assert.deepEqual([await get('/t1'), await get('/t2')], [200, 200]);
  assert.equal(accepted - before, 2);
  pool.close();
});

/** A byte stream over a socket that is not one, as a remote agent's TunnelStream is. */
class NotASocket extends Duplex {
  constructor(private readonly s: Socket) {
    super();
    s.on('data', (d: Buffer) => void (this.push(d) || s.pause()));
    s.on('end', () => this.push(null));
  }
  override _read(): void {
    this.s.resume();
  }
  override _write(c: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.s.write(c, cb);
  }
  override _final(cb: () => void): void {
    this.s.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.s.destroy();
    cb(err);
  }
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
