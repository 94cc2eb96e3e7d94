// Opens the gateway's own session to the target MySQL or MariaDB: optional TLS, the
// handshake with the capabilities the client asked for (so packets pass between the legs
// as they are), and authentication with the credential only the gateway holds
// (caching_sha2_password fast and full, mysql_native_password, MariaDB's client_ed25519,
// cleartext only over TLS).
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { existsSync, readFileSync } from 'node:fs';
import { CLIENT, MUST_MATCH, PASSED_THROUGH } from './constants.ts';
import { decodeErr, decodeGreeting, encodeHandshakeResponse, encodeSslRequest, okStatus, type Greeting } from './messages.ts';
import { framePacket } from './packets.ts';
import { HandshakeReader } from './handshake-reader.ts';
import { nativeScramble, rsaEncryptPassword, sha2Scramble } from './auth.ts';
import { ed25519PasswordSign } from './ed25519.ts';

export interface MysqlUpstreamTls {
  mode: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

export interface MysqlTarget {
  host: string;
  user: string;
  password?: string;
  /** the default database to start in (null: none) */
  database: string | null;
  tls: MysqlUpstreamTls;
  /** the client's capability flags: the ones that shape packets are asked of the target too */
  clientCapabilities: number;
  charset: number;
  /** connection attributes to send (program name, the Warden session) */
  attributes?: Map<string, string>;
}

export interface MysqlUpstream {
  socket: Duplex;
  greeting: Greeting;
  /** the capabilities in force on this leg */
  capabilities: number;
  tls: boolean;
  /** the status flags of the server's OK (autocommit...), for the client's OK */
  status: number;
}

/** Failure of the upstream handshake; `code` is the server's error code when it sent one. */
export class MysqlUpstreamError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly sqlState?: string,
  ) {
    super(message);
    this.name = 'MysqlUpstreamError';
  }
}

function pem(v: string | undefined): string | undefined {
  if (!v) return undefined;
  return v.includes('-----BEGIN') ? v : existsSync(v) ? readFileSync(v, 'utf8') : v;
}

async function startTls(raw: Duplex, target: MysqlTarget): Promise<Duplex> {
  const opts: ConnectionOptions = {
    socket: raw as never,
    servername: target.tls.servername ?? (/^[\d.:]+$/.test(target.host) ? undefined : target.host),
    ca: pem(target.tls.ca),
    cert: pem(target.tls.cert),
    key: pem(target.tls.key),
    rejectUnauthorized: target.tls.mode === 'verify-ca' || target.tls.mode === 'verify-full',
  };
  if (target.tls.mode === 'verify-ca') opts.checkServerIdentity = () => undefined;
  else if (target.tls.mode === 'verify-full') opts.servername ??= target.host;
  const secure = tlsConnect(opts);
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', (e) => reject(new MysqlUpstreamError(`TLS to the target failed: ${e.message}`)));
  });
  return secure;
}

/** Run the client handshake over `raw` (a byte stream from the dialer). */
export async function connectUpstream(raw: Duplex, target: MysqlTarget): Promise<MysqlUpstream> {
  const reader = new HandshakeReader(raw, 1 << 20);
  let socket: Duplex = raw;
  try {
    const first = await reader.packet();
    const greeting = decodeGreeting(first.payload, 0, first.payload.length);
    const server = greeting.capabilities;
    const missing = target.clientCapabilities & MUST_MATCH & ~server;
    if (missing) throw new MysqlUpstreamError(`the target lacks capabilities the client relies on (0x${missing.toString(16)}); it is too old for the gateway`);
    let caps =
      CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.LONG_PASSWORD |
      (target.clientCapabilities & PASSED_THROUGH) | (target.database ? CLIENT.CONNECT_WITH_DB : 0) | (target.attributes?.size ? CLIENT.CONNECT_ATTRS : 0);
    caps &= server | CLIENT.PROTOCOL_41;
    let seq = first.seq + 1;
    let tls = false;
    if (target.tls.mode !== 'disable') {
      if (server & CLIENT.SSL) {
        caps |= CLIENT.SSL;
        raw.write(framePacket(encodeSslRequest(caps, target.charset), seq++));
        if (reader.detach()) throw new MysqlUpstreamError('the target sent data before TLS');
        socket = await startTls(raw, target);
        reader.replaceSocket(socket);
        tls = true;
      } else if (target.tls.mode !== 'prefer') {
        throw new MysqlUpstreamError(`the target does not offer TLS (tls.mode is ${target.tls.mode})`);
      }
    }
    const password = target.password ?? '';
    let status = 2;
    let nonce = greeting.scramble;
    let plugin = greeting.authPlugin;
    const respond = (name: string, data: Buffer): Buffer => {
      switch (name) {
        case 'mysql_native_password':
          return nativeScramble(password, data);
        case 'caching_sha2_password':
          return sha2Scramble(password, data);
        case 'client_ed25519':
          return ed25519PasswordSign(password, data.subarray(0, 32));
        case 'mysql_clear_password':
          if (!tls) throw new MysqlUpstreamError('the target asks for the password in clear text on a connection without TLS; set the connection\'s tls');
          return Buffer.from(`${password}\0`, 'utf8');
        default:
          throw new MysqlUpstreamError(`the target asks for the unsupported auth plugin ${name}`);
      }
    };
    const initial = ['mysql_native_password', 'caching_sha2_password'].includes(plugin) ? respond(plugin, nonce) : Buffer.alloc(0);
    socket.write(
      framePacket(
        encodeHandshakeResponse({
          capabilities: caps, maxPacket: 0x1000000, charset: target.charset, user: target.user, authResponse: initial,
          database: target.database, authPlugin: plugin, attributes: target.attributes ?? new Map(),
        }),
        seq,
      ),
    );
    for (;;) {
      const p = await reader.packet();
      seq = p.seq + 1;
      const b = p.payload;
      const head = b[0];
      if (head === 0x00) {
        status = okStatus(b, 0, b.length).status;
        break;
      }
      if (head === 0xff) {
        const e = decodeErr(b, 0, b.length);
        throw new MysqlUpstreamError(`the target refused the connection: ${e.message}`, e.code, e.sqlState);
      }
      if (head === 0xfe) {
        // AuthSwitchRequest: another plugin, a fresh nonce
        const nul = b.indexOf(0, 1);
        plugin = b.toString('utf8', 1, nul < 0 ? b.length : nul);
        nonce = nul < 0 ? Buffer.alloc(0) : b.subarray(nul + 1);
        if (nonce.length && nonce[nonce.length - 1] === 0) nonce = nonce.subarray(0, nonce.length - 1);
        socket.write(framePacket(respond(plugin, nonce), seq));
        continue;
      }
      if (head === 0x01 && plugin === 'caching_sha2_password') {
        if (b[1] === 0x03) continue; // fast authentication succeeded: the OK follows
        if (b[1] === 0x04) {
          // full authentication: the password itself, in clear over TLS, else under the server's RSA key
          socket.write(framePacket(tls ? Buffer.from(`${password}\0`, 'utf8') : Buffer.from([0x02]), seq));
          continue;
        }
        // the server's public key, asked for above
        socket.write(framePacket(rsaEncryptPassword(password, nonce, b.toString('utf8', 1)), seq));
        continue;
      }
      throw new MysqlUpstreamError(`unexpected packet 0x${(head ?? 0).toString(16)} from the target during authentication`);
    }
    const rest = reader.detach();
    if (rest) socket.unshift(rest);
    return { socket, greeting, capabilities: caps, tls, status };
  } catch (e) {
    reader.detach();
    socket.destroy();
    if (e instanceof MysqlUpstreamError) throw e;
    throw new MysqlUpstreamError((e as Error).message);
  }
}
