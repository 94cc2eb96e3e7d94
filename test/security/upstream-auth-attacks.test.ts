// The gateway's own login to a target, attacked from the network between them: a fake
// server that asks for the password in clear or as md5 (it must not get it), a SCRAM
// server that skips or forges its proof (it must not be believed), and a man in the
// middle with its own certificate, or one that strips SCRAM-SHA-256-PLUS from the offer
// (the real server must refuse the login). Ground truth is what the fake server received
// and what the real server accepted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connect as tlsConnect, TLSSocket, createSecureContext } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawConnect } from '../helpers/raw-pg.ts';
import { HandshakeReader } from '../../src/protocols/postgres/handshake-reader.ts';
import { encodeBackend, decodeStartup } from '../../src/protocols/postgres/messages.ts';

const PASSWORD = 'upstream-S3cret-never-leaks';

/** What a fake server saw: every frontend message type after the startup, and the password payloads. */
interface FakeServer {
  port: number;
  received: { type: string; payload: string }[];
  close(): Promise<void>;
}

/**
 * A fake Postgres that refuses SSL and then runs `script` after the startup message.
 * `script` gets a reader of typed frontend messages and the socket to answer on.
 */
async function fakeServer(script: (read: () => Promise<{ type: string; payload: Buffer }>, write: (b: Buffer) => void) => Promise<void>): Promise<FakeServer> {
  const received: FakeServer['received'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    const reader = new HandshakeReader(s);
    void (async () => {
      for (;;) {
        const m = await reader.message(false);
        const startup = decodeStartup(m.payload, 0, m.payload.length);
        if (startup.type === 'SSLRequest') {
          s.write('N');
          continue;
        }
        break;
      }
      const read = async () => {
        const m = await reader.message(true);
        const type = String.fromCharCode(m.type);
        received.push({ type, payload: m.payload.toString('latin1') });
        return { type, payload: m.payload };
      };
      await script(read, (b) => s.write(b));
    })().catch(() => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

const auth = (code: number, data: Buffer = Buffer.alloc(0)) => encodeBackend({ type: 'Authentication', code, data });
const ready = () => Buffer.concat([auth(0), encodeBackend({ type: 'BackendKeyData', pid: 1, key: 2 }), encodeBackend({ type: 'ReadyForQuery', status: 'I' })]);

/** A SCRAM server that answers the client-first-message, then ends with `ending` (without checking the proof). */
function scramServer(ending: (write: (b: Buffer) => void) => void) {
  return async (read: () => Promise<{ type: string; payload: Buffer }>, write: (b: Buffer) => void) => {
    write(auth(10, Buffer.from('SCRAM-SHA-256\0\0')));
    const first = (await read()).payload;
    const mechEnd = first.indexOf(0);
    const clientFirst = first.subarray(mechEnd + 5).toString('utf8');
    const nonce = /r=([^,]+)/.exec(clientFirst)![1]!;
    write(auth(11, Buffer.from(`r=${nonce}${randomBytes(9).toString('base64')},s=${randomBytes(16).toString('base64')},i=4096`)));
    await read(); // client-final-message: the fake server cannot check it and does not try
    ending(write);
  };
}

/**
 * A man in the middle: terminates the gateway's TLS with its own certificate and opens its
 * own TLS to the real server, relaying the plaintext. `rewrite` may change the server's
 * first message (the SASL offer).
 */
async function mitm(target: { port: number }, rewrite?: (first: Buffer) => Buffer): Promise<{ port: number; close(): Promise<void> }> {
  const own = await makeCertificate({ commonName: 'mallory' });
  const context = createSecureContext({ cert: own.cert, key: own.key });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((victim) => {
    sockets.add(victim);
    victim.on('error', () => {});
    victim.once('data', () => {
      victim.write('S');
      const front = new TLSSocket(victim, { isServer: true, secureContext: context });
      front.on('error', () => {});
      const raw = net.connect(target.port, '127.0.0.1');
      sockets.add(raw);
      raw.on('error', () => {});
      raw.once('connect', () => raw.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
      raw.once('data', () => {
        const back = tlsConnect({ socket: raw, rejectUnauthorized: false });
        back.on('error', () => {});
        back.once('secureConnect', () => {
          front.pipe(back);
          if (!rewrite) return void back.pipe(front);
          let held = Buffer.alloc(0);
          const onData = (d: Buffer) => {
            held = Buffer.concat([held, d]);
            if (held.length < 5 || held.length < 1 + held.readInt32BE(1)) return;
            back.off('data', onData);
            const len = 1 + held.readInt32BE(1);
            front.write(Buffer.concat([rewrite(held.subarray(0, len)), held.subarray(len)]));
            back.pipe(front);
          };
          back.on('data', onData);
        });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

let t: TestGateway;
let token: string;
const clusters: PgCluster[] = [];
const fakes: FakeServer[] = [];
const proxies: { close(): Promise<void> }[] = [];
let cleartextFake: FakeServer, md5Fake: FakeServer, noFinalFake: FakeServer, forgedFinalFake: FakeServer;

before(async () => {
  const [md5, scramTls, passwordTls] = await Promise.all([
    startPgCluster({ auth: 'md5', users: [{ name: 'app', password: PASSWORD }] }),
    startPgCluster({ auth: 'scram-sha-256', ssl: 'require', users: [{ name: 'app', password: PASSWORD }] }),
    startPgCluster({ auth: 'password', ssl: 'require', users: [{ name: 'app', password: PASSWORD }] }),
  ]);
  clusters.push(md5, scramTls, passwordTls);
  cleartextFake = await fakeServer(async (_read, write) => write(auth(3)));
  md5Fake = await fakeServer(async (_read, write) => write(auth(5, randomBytes(4))));
  noFinalFake = await fakeServer(scramServer((write) => write(ready())));
  forgedFinalFake = await fakeServer(scramServer((write) => write(Buffer.concat([auth(12, Buffer.from(`v=${randomBytes(32).toString('base64')}`)), ready()]))));
  fakes.push(cleartextFake, md5Fake, noFinalFake, forgedFinalFake);
  const swapped = await mitm(scramTls);
  const stripped = await mitm(scramTls, (first) => {
    // AuthenticationSASL offering only SCRAM-SHA-256: the -PLUS variant removed.
    if (first[0] !== 0x52 || first.readInt32BE(5) !== 10) return first;
    return auth(10, Buffer.from('SCRAM-SHA-256\0\0'));
  });
  proxies.push(swapped, stripped);

  const conn = (name: string, port: number, extra: Record<string, unknown> = {}) => ({
    name, type: 'postgres', host: '127.0.0.1', port, database: 'postgres', user: 'app', password: PASSWORD, tls: false, access: { groups: ['dev'] }, ...extra,
  });
  t = await startTestGateway({
    connections: [
      conn('fake-cleartext', cleartextFake.port),
      conn('fake-md5', md5Fake.port),
      conn('fake-no-final', noFinalFake.port),
      conn('fake-forged-final', forgedFinalFake.port),
      conn('md5-plain', md5.port),
      conn('md5-plain-allowed', md5.port, { allowInsecureAuth: true }),
      conn('md5-unverified-tls', md5.port, { tls: { mode: 'prefer' } }),
      conn('password-verified-tls', passwordTls.port, { host: 'localhost', tls: { mode: 'verify-full', ca: passwordTls.caCert } }),
      conn('password-unverified-tls', passwordTls.port, { tls: { mode: 'require' } }),
      conn('scram-tls-require', scramTls.port, { tls: { mode: 'require' } }),
      conn('scram-tls-default', scramTls.port, { tls: undefined }),
      conn('scram-via-mitm', swapped.port, { tls: { mode: 'require' } }),
      conn('scram-via-stripping-mitm', stripped.port, { tls: { mode: 'require' } }),
    ],
  });
  token = await t.token(['dev'], 'upstream-attacker');
});

after(async () => {
  await t?.close();
  await Promise.all([...clusters.map((c) => c.close()), ...fakes.map((f) => f.close()), ...proxies.map((p) => p.close())]);
});

/** The gateway's refusal of a login to `connection` (a fake server that hangs fails the test, not the run). */
async function refusal(connection: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000)));
  try {
    const c = await Promise.race([rawConnect(t.pgPort, connection, token), hung]);
    c.close();
  } catch (e) {
    if ((e as Error).message.startsWith('refused: ')) return (e as Error).message;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  assert.fail(`the gateway logged in to "${connection}"`);
}

async function selectOne(connection: string): Promise<void> {
  const c = await rawConnect(t.pgPort, connection, token);
  c.close();
}

test('a fake server asking for the password in clear over plain TCP never gets it; the refusal names the connection and the key', async () => {
  const msg = await refusal('fake-cleartext');
  assert.match(msg, /cannot reach connection "fake-cleartext".*cleartext password.*allowInsecureAuth: true on connection "fake-cleartext"/);
  assert.deepEqual(cleartextFake.received, [], 'the fake server received a password message');
});

test('a fake server asking for md5 over plain TCP never gets the hash either', async () => {
  const msg = await refusal('fake-md5');
  assert.match(msg, /md5 password.*allowInsecureAuth/);
  assert.deepEqual(md5Fake.received, []);
});

test('md5 on a real server: refused over plain TCP and over unverified TLS, allowed with allowInsecureAuth', async () => {
  assert.match(await refusal('md5-plain'), /md5 password authentication over a link without TLS/);
  // The md5 cluster has no TLS; `prefer` falls back to plain, still not verified.
  assert.match(await refusal('md5-unverified-tls'), /allowInsecureAuth/);
  await selectOne('md5-plain-allowed');
});

test('cleartext password on a real server: sent over verified TLS, refused over TLS that was not verified', async () => {
  await selectOne('password-verified-tls');
  assert.match(await refusal('password-unverified-tls'), /over TLS that was not verified \(tls.mode require\)/);
});

test('a SCRAM server that says AuthenticationOk without its server signature is refused', async () => {
  assert.match(await refusal('fake-no-final'), /without its SCRAM server signature/);
});

test('a SCRAM server with a forged server signature is refused', async () => {
  assert.match(await refusal('fake-forged-final'), /SCRAM server signature does not match/);
});

test('SCRAM over TLS uses -PLUS: the real server accepts the binding, with require and by default', async () => {
  await selectOne('scram-tls-require');
  await selectOne('scram-tls-default');
});

test('a man in the middle with its own certificate cannot log in through the gateway (channel binding)', async () => {
  const msg = await refusal('scram-via-mitm');
  assert.match(msg, /channel binding/i);
});

test('a man in the middle that strips -PLUS from the offer is caught by the server (gs2 flag y)', async () => {
  const msg = await refusal('scram-via-stripping-mitm');
  assert.match(msg, /channel binding/i);
});
