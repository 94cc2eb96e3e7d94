// Denial of service at the MySQL door, with raw sockets, under the same limits as the
// Postgres and SSH doors (gateway.handshake): a client that connects and says nothing, or
// trickles its login a byte at a time (which an idle timer would never end), is closed at the
// handshake deadline and told why; at most `maxPending` connections may be logging in at once
// and the next one is refused with MySQL's own "too many connections" error; a freed slot
// admits a real client again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { closedWithin, metricValue, rawSocket, waitFor, within } from '../helpers/door-probes.ts';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { HandshakeReader, type RawPacket } from '../../src/protocols/mysql/handshake-reader.ts';
import { decodeErr } from '../../src/protocols/mysql/messages.ts';

let t: TestGateway;
let token: string;

before(async () => {
  t = await startTestGateway({ connections: [localMysql('dos-my')], gateway: { handshake: { timeout: '1s', maxPending: 3 } } });
  token = await t.token(['dev'], 'dos-my-tester');
});
after(() => t?.close());

type Raw = Awaited<ReturnType<typeof rawSocket>> & { reader: HandshakeReader };

async function connectRaw(): Promise<Raw> {
  const r = await rawSocket(t.mysqlPort);
  return { ...r, reader: new HandshakeReader(r.socket, 1 << 16) };
}

const nextPacket = (r: Raw): Promise<RawPacket> => within(r.reader.packet(), 'no packet from the gateway');

const errorOf = (p: RawPacket) => (p.payload[0] === 0xff ? decodeErr(p.payload, 0, p.payload.length) : null);

test('a client that takes the greeting and says nothing is told why and closed at the handshake deadline, and counted', async () => {
  const before = await metricValue(t, 'warden_auth_failures_total', 'frontDoor="mysql",reason="handshake_timeout"');
  const r = await connectRaw();
  const greeting = await nextPacket(r);
  assert.equal(greeting.payload[0], 10, 'the greeting (protocol 10)');
  const err = errorOf(await nextPacket(r));
  assert.ok(err, 'an ERR packet');
  assert.equal(err.code, 1043);
  assert.match(err.message, /no login within 1 s/);
  await closedWithin(r);
  assert.ok((await metricValue(t, 'warden_auth_failures_total', 'frontDoor="mysql",reason="handshake_timeout"')) > before);
});

test('a client that trickles its login a byte at a time is still closed at the deadline', async () => {
  const r = await connectRaw();
  await nextPacket(r); // the greeting
  // the start of a handshake response's header, a byte every 200 ms: never a whole packet
  const bytes = [0x40, 0x00, 0x00, 0x01, 0x8d, 0xa6, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x01];
  let i = 0;
  const drip = setInterval(() => {
    if (i < bytes.length && !r.socket.destroyed) r.socket.write(Buffer.from([bytes[i++]!]));
  }, 200);
  try {
    const started = Date.now();
    await closedWithin(r, 10_000);
    assert.ok(i < bytes.length, `closed while still trickling (${i} bytes sent in ${Date.now() - started} ms)`);
  } finally {
    clearInterval(drip);
  }
});

test('beyond maxPending, a new connection gets "too many connections" (1040) instead of a greeting; a freed slot admits again', async () => {
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 0, 'earlier handshakes to end');
  const before = await metricValue(t, 'warden_auth_failures_total', 'frontDoor="mysql",reason="too_many_handshakes"');
  const idle = await Promise.all([connectRaw(), connectRaw(), connectRaw()]);
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 3, 'three pending handshakes');
  const fourth = await connectRaw();
  const err = errorOf(await nextPacket(fourth));
  assert.ok(err, 'an ERR packet in place of the greeting');
  assert.equal(err.code, 1040);
  assert.match(err.message, /too many connections are logging in/);
  await closedWithin(fourth);
  assert.ok((await metricValue(t, 'warden_auth_failures_total', 'frontDoor="mysql",reason="too_many_handshakes"')) > before);
  // and a stock client is told the same, by its driver
  await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'dos-my', password: token }), /too many connections are logging in/);
  for (const r of idle) r.socket.destroy();
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 0, 'the slots to free');
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'dos-my', password: token });
  const [rows] = await c.query('SELECT 1 AS one');
  assert.equal((rows as { one: number }[])[0]!.one, 1);
  await c.end();
});
