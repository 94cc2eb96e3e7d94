// The caller's side of the handshake: the gateway's greeting, TLS when the client asks,
// and getting the caller's Warden token out of whatever auth plugin the client speaks.
// Stock clients send no token in clear on their own, so the gateway asks for it:
//   - caching_sha2_password (announced): always "full authentication", in which the client
//     sends the password itself, in clear over TLS or RSA-encrypted under the gateway's key;
//   - mysql_clear_password: accepted over TLS only;
//   - mysql_native_password: a scramble, not the token; checked against the verifier stored
//     with each API key (no other token kind has one), else the client is switched to
//     caching_sha2_password;
//   - anything else: switched to caching_sha2_password.
import { TLSSocket, type SecureContext } from 'node:tls';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { CLIENT, OFFERED, UTF8MB4_GENERAL_CI } from './constants.ts';
import { decodeHandshakeResponse, encodeAuthMoreData, encodeAuthSwitch, encodeGreeting } from './messages.ts';
import { framePacket, ProtocolError } from './packets.ts';
import { HandshakeReader } from './handshake-reader.ts';
import { newScramble, rsaDecryptPassword, type RsaKeys } from './auth.ts';

/** What proves the caller: its token, or a native scramble to check against stored verifiers. */
export type CallerCredential = { kind: 'token'; token: string } | { kind: 'native'; scramble: Buffer; response: Buffer };

export interface CallerHello {
  /** the stream to the client (a TLSSocket after an upgrade) */
  socket: Duplex;
  reader: HandshakeReader;
  tls: boolean;
  user: string;
  database: string | null;
  capabilities: number;
  charset: number;
  attributes: Map<string, string>;
  credential: CallerCredential;
  /** the sequence id of the gateway's next packet (OK or ERR) */
  nextSeq: number;
}

export interface GreetOptions {
  connectionId: number;
  version: string;
  secure: SecureContext | null;
  rsa: RsaKeys;
  /** may this native scramble be an API key's? (the door checks it against the store) */
  nativeKnown?: (scramble: Buffer, response: Buffer) => Promise<boolean>;
}

/** A refusal during the handshake, answered with an ERR packet at the next sequence id. */
export class HandshakeRefusal extends Error {
  constructor(
    message: string,
    readonly code = 1045,
    readonly sqlState = '28000',
    readonly seq = 2,
  ) {
    super(message);
  }
}

const SHA2 = 'caching_sha2_password';
const PERFORM_FULL_AUTH = Buffer.from([0x04]);

export async function greetCaller(raw: Socket, opts: GreetOptions): Promise<CallerHello> {
  const reader = new HandshakeReader(raw);
  let socket: Duplex = raw;
  let scramble = newScramble();
  const offered = OFFERED | (opts.secure ? CLIENT.SSL : 0);
  raw.write(framePacket(encodeGreeting({ version: opts.version, connectionId: opts.connectionId, scramble, capabilities: offered, charset: UTF8MB4_GENERAL_CI, status: 2, authPlugin: SHA2 }), 0));

  let p = await reader.packet();
  let hello = decodeHandshakeResponse(p.payload, 0, p.payload.length);
  let tls = false;
  if (hello.sslRequest) {
    if (!opts.secure || !(hello.capabilities & CLIENT.SSL)) throw new HandshakeRefusal('TLS was asked for but is not offered', 1043, '08S01', p.seq + 1);
    // A client sends its TLS hello right after the SSL request, without waiting: both may
    // have come in one read, and the TLS layer must then see those bytes first.
    const early = reader.detach();
    const secure = new TLSSocket(early ? prefixed(raw, early) : raw, { isServer: true, secureContext: opts.secure });
    secure.on('error', () => {});
    socket = secure;
    reader.replaceSocket(secure);
    tls = true;
    p = await reader.packet();
    hello = decodeHandshakeResponse(p.payload, 0, p.payload.length);
    if (hello.sslRequest) throw new ProtocolError('a second SSL request');
  }
  let seq = p.seq + 1;
  const base = { socket, reader, tls, user: hello.user, database: hello.database, capabilities: hello.capabilities & (offered | CLIENT.SSL), charset: hello.charset, attributes: hello.attributes };
  const send = (payload: Buffer) => socket.write(framePacket(payload, seq));
  const next = async () => {
    const q = await reader.packet();
    seq = q.seq + 1;
    return q.payload;
  };
  const done = (credential: CallerCredential): CallerHello => ({ ...base, credential, nextSeq: seq });
  const canSwitch = (hello.capabilities & CLIENT.PLUGIN_AUTH) !== 0;

  // caching_sha2_password, full authentication: the token itself
  const fullAuth = async (): Promise<CallerHello> => {
    send(encodeAuthMoreData(PERFORM_FULL_AUTH));
    let answer = await next();
    if (tls) return done({ kind: 'token', token: cstring(answer) });
    if (answer.length === 1 && answer[0] === 0x02) {
      // the client asks for the gateway's public key, then sends the token under it
      send(encodeAuthMoreData(Buffer.from(opts.rsa.publicPem, 'utf8')));
      answer = await next();
      const token = rsaDecryptPassword(answer, scramble, opts.rsa);
      if (token === null) throw new HandshakeRefusal('the token could not be decrypted with the gateway\'s RSA key', 1045, '28000', seq);
      return done({ kind: 'token', token });
    }
    throw new HandshakeRefusal('send the token over TLS (--ssl) or let the client fetch the gateway\'s RSA public key', 1251, '08004', seq);
  };
  const switchToSha2 = async (): Promise<CallerHello> => {
    if (!canSwitch) throw new HandshakeRefusal('the client cannot switch auth plugins; use a client that supports caching_sha2_password', 1251, '08004', seq);
    scramble = newScramble();
    send(encodeAuthSwitch(SHA2, Buffer.concat([scramble, Buffer.from([0])])));
    await next(); // the fast-auth scramble: of no use without the token's hash
    return fullAuth();
  };

  const plugin = hello.authPlugin ?? (hello.capabilities & CLIENT.SECURE_CONNECTION ? 'mysql_native_password' : 'mysql_old_password');
  if (plugin === SHA2) {
    if (hello.authResponse.length === 0) throw new HandshakeRefusal('no password given: the password must be a Warden access token', 1045, '28000', seq);
    return fullAuth();
  }
  if (plugin === 'mysql_clear_password') {
    if (!tls) throw new HandshakeRefusal('the token was sent in clear text without TLS; connect with --ssl', 1251, '08004', seq);
    return done({ kind: 'token', token: cstring(hello.authResponse) });
  }
  if (plugin === 'mysql_native_password' && hello.authResponse.length === 20) {
    if (!canSwitch || (await opts.nativeKnown?.(scramble, hello.authResponse))) return done({ kind: 'native', scramble, response: hello.authResponse });
  }
  return switchToSha2();
}

/**
 * The greeting of an in-process client (MCP, exec): a stream inside the gateway whose caller
 * the gateway already admitted, so whatever it answers is not checked; no TLS to offer.
 */
export async function greetInProcess(stream: Duplex, opts: { connectionId: number; version: string }): Promise<Omit<CallerHello, 'credential'>> {
  const reader = new HandshakeReader(stream);
  const scramble = newScramble();
  stream.write(framePacket(encodeGreeting({ version: opts.version, connectionId: opts.connectionId, scramble, capabilities: OFFERED, charset: UTF8MB4_GENERAL_CI, status: 2, authPlugin: 'mysql_native_password' }), 0));
  const p = await reader.packet();
  const hello = decodeHandshakeResponse(p.payload, 0, p.payload.length);
  if (hello.sslRequest) throw new ProtocolError('TLS inside the gateway');
  return { socket: stream, reader, tls: false, user: hello.user, database: hello.database, capabilities: hello.capabilities & OFFERED, charset: hello.charset, attributes: hello.attributes, nextSeq: p.seq + 1 };
}

/** `raw` as a stream that first yields `head` (bytes already read from it). */
function prefixed(raw: Socket, head: Buffer): Duplex {
  const d = new Duplex({
    read: () => void raw.resume(),
    write: (chunk: Buffer, _enc, cb) => void raw.write(chunk, cb),
    final: (cb) => {
      raw.end();
      cb();
    },
    destroy: (err, cb) => {
      raw.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(head);
  raw.on('data', (c: Buffer) => {
    if (!d.push(c)) raw.pause();
  });
  raw.on('end', () => d.push(null));
  raw.on('close', () => d.destroy());
  return d;
}

function cstring(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}
