// Denial of service at the Postgres door, with raw sockets: a client that connects and says
// nothing, or stalls in TLS or before its password, is closed at the handshake deadline; at
// most `maxPending` connections may be logging in at once and the next one is refused with
// a clear error; a flood of refused logins is counted (metrics) and summed in the audit log
// instead of one event per attempt.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closedWithin, metricValue, rawSocket, waitFor, within } from '../helpers/door-probes.ts';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { rawConnect } from '../helpers/raw-pg.ts';
import { HandshakeReader } from '../../src/protocols/postgres/handshake-reader.ts';
import { decodeBackend, encodeStartup, PROTOCOL_3, type BackendMessage } from '../../src/protocols/postgres/messages.ts';

let t: TestGateway;
let token: string;

before(async () => {
  t = await startTestGateway({
    connections: [localPostgres('dos-db')],
    gateway: { handshake: { timeout: '1s', maxPending: 3 } },
    auth: { rateLimit: { perSource: 5, perAccount: 1000, window: '10m' } },
  });
  token = await t.token(['dev'], 'dos-tester');
});
after(() => t?.close());

type Raw = Awaited<ReturnType<typeof rawSocket>> & { reader: HandshakeReader };

async function connectRaw(): Promise<Raw> {
  const r = await rawSocket(t.pgPort);
  return { ...r, reader: new HandshakeReader(r.socket) };
}

async function nextMessage(r: Raw, ms = 15_000): Promise<BackendMessage> {
  const m = await within(r.reader.message(true), 'no answer from the gateway', ms);
  return decodeBackend(m.type, m.payload, 0, m.payload.length);
}

test('a client that connects and sends nothing is closed at the handshake deadline', async () => {
  const before = await metricValue(t, 'warden_auth_failures_total', 'frontDoor="postgres",reason="handshake_timeout"');
  const r = await connectRaw();
  await closedWithin(r);
  assert.ok((await metricValue(t, 'warden_auth_failures_total', 'frontDoor="postgres",reason="handshake_timeout"')) > before);
});

test('a client that stalls before its password is told why and closed', async () => {
  const r = await connectRaw();
  r.socket.write(encodeStartup({ type: 'Startup', protocol: PROTOCOL_3, params: { user: 'dos-db' } }));
  const ask = await nextMessage(r);
  assert.equal(ask.type, 'Authentication');
  const err = await nextMessage(r);
  assert.equal(err.type, 'ErrorResponse');
  assert.match(err.type === 'ErrorResponse' ? err.fields.M! : '', /no login within 1 s/);
  await closedWithin(r);
});

test('a client that stalls in the TLS handshake is closed', async () => {
  const r = await connectRaw();
  r.socket.write(encodeStartup({ type: 'SSLRequest' }));
  assert.equal((await r.reader.bytes(1)).toString(), 'S');
  await closedWithin(r); // it never sends its ClientHello
});

test('beyond maxPending, a new connection is refused with a clear error; a freed slot admits again', async () => {
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 0, 'earlier handshakes to end');
  const idle = await Promise.all([connectRaw(), connectRaw(), connectRaw()]);
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 3, 'three pending handshakes');
  const fourth = await connectRaw();
  fourth.socket.write(encodeStartup({ type: 'SSLRequest' }));
  const refused = await nextMessage(fourth);
  assert.equal(refused.type, 'ErrorResponse');
  if (refused.type === 'ErrorResponse') {
    assert.equal(refused.fields.C, '53300');
    assert.match(refused.fields.M!, /too many connections are logging in/);
  }
  for (const r of idle) r.socket.destroy();
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 0, 'the slots to free');
  const c = await rawConnect(t.pgPort, 'dos-db', token);
  c.close();
});

test('a flood of bad tokens is counted in full but audited as a few events and one summary per address', async () => {
  await t.gw.services.audit.flush();
  const events = async (type: string) => {
    await t.gw.services.audit.flush();
    return t.gw.services.store.db.selectFrom('events').select(['data']).where('type', '=', type).execute();
  };
  const deniedBefore = (await events('auth.denied')).length;
  const countBefore = (await metricValue(t, 'warden_auth_failures_total', 'frontDoor="postgres",reason="invalid_credential"')) + (await metricValue(t, 'warden_auth_failures_total', 'frontDoor="postgres",reason="rate_limited"'));
  const N = 40;
  for (let i = 0; i < N; i++) await assert.rejects(rawConnect(t.pgPort, 'dos-db', `wdn_guess_${i}`), /refused/);
  const counted = (await metricValue(t, 'warden_auth_failures_total', 'frontDoor="postgres",reason="invalid_credential"')) + (await metricValue(t, 'warden_auth_failures_total', 'frontDoor="postgres",reason="rate_limited"'));
  assert.equal(counted - countBefore, N, 'every refusal is counted');
  const denied = (await events('auth.denied')).length - deniedBefore;
  assert.ok(denied <= 5, `${denied} refusals audited one by one (at most perSource before the source is limited)`);
  t.gw.services.flushRefusals();
  const summaries = (await events('auth.refused_summary')).map((r) => JSON.parse(r.data) as { clientAddr: string; count: number; reasons: Record<string, number> });
  const mine = summaries.find((s) => s.clientAddr === '127.0.0.1' && (s.reasons.rate_limited ?? 0) > 0);
  assert.ok(mine, JSON.stringify(summaries));
  assert.equal(mine.reasons.rate_limited, N - denied);
});
