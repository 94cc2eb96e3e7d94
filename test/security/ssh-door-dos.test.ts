// Denial of service at the SSH door, with raw sockets, under the same limits as the Postgres
// and MySQL doors (gateway.handshake). ssh2 tells of a connection only once the client has
// sent its version line, so a client that sends nothing, or only that line, must be held to
// the deadline by the door itself; at most `maxPending` connections may be logging in at once,
// the next is closed at once, and a freed slot admits a real client again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startSshd, type TestSshd } from '../helpers/sshd.ts';
import { closedWithin, metricValue, rawSocket, waitFor } from '../helpers/door-probes.ts';

let sshd: TestSshd;
let t: TestGateway;

before(async () => {
  sshd = await startSshd();
  t = await startTestGateway({
    connections: [{ name: 'box', type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['dev'] } }],
    gateway: { handshake: { timeout: '1s', maxPending: 3 } },
  });
});
after(async () => {
  await t?.close();
  await sshd?.close();
});

/** A raw TCP client of the SSH door that reads (and drops) what the door sends, so it sees the door close. */
async function connectRaw() {
  const r = await rawSocket(t.sshPort);
  r.socket.resume();
  return r;
}

const timeouts = () => metricValue(t, 'warden_auth_failures_total', 'frontDoor="ssh",reason="handshake_timeout"');

test('a client that connects and sends nothing is closed at the handshake deadline, and counted', async () => {
  const before = await timeouts();
  await closedWithin(await connectRaw());
  assert.ok((await timeouts()) > before);
});

test('a client that sends its version line and then nothing is closed at the deadline', async () => {
  const r = await connectRaw();
  r.socket.write('SSH-2.0-OpenSSH_9.2p1 stall\r\n');
  await closedWithin(r);
});

test('beyond maxPending, a new connection is closed at once; a freed slot admits a real client again', async () => {
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 0, 'earlier handshakes to end');
  const before = await metricValue(t, 'warden_auth_failures_total', 'frontDoor="ssh",reason="too_many_handshakes"');
  const idle = await Promise.all([connectRaw(), connectRaw(), connectRaw()]);
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 3, 'three pending handshakes');
  await closedWithin(await connectRaw(), 900); // well before the 1 s deadline
  assert.ok((await metricValue(t, 'warden_auth_failures_total', 'frontDoor="ssh",reason="too_many_handshakes"')) > before);
  for (const r of idle) r.socket.destroy();
  await waitFor(async () => (await metricValue(t, 'warden_handshakes_pending', '')) === 0, 'the slots to free');

  const token = await t.token(['dev'], 'ssh-dos-tester');
  const c = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve()).once('error', reject);
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: 'box', password: token, readyTimeout: 20_000 });
  });
  try {
    const out = await new Promise<string>((resolve, reject) =>
      c.exec('echo admitted', (e, ch) => {
        if (e) return reject(e);
        let text = '';
        ch.on('data', (b: Buffer) => (text += b)).on('close', () => resolve(text));
      }),
    );
    assert.equal(out.trim(), 'admitted');
  } finally {
    c.end();
  }
});
