// Opens the gateway's own session to the target Postgres: optional TLS, startup, and
// authentication with the credential only the gateway holds (trust, cleartext, md5,
// SCRAM-SHA-256, SCRAM-SHA-256-PLUS). Returns the stream ready for queries and what the
// server announced.
//
// The password is guarded like the secret it is: cleartext and md5 (which a listener can
// replay or crack) go only over TLS whose certificate was verified, unless the connection
// says `allowInsecureAuth: true`; SCRAM over TLS binds the exchange to the server's
// certificate, and a SCRAM server must prove it knows the password before we believe it.
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { readFileSync, existsSync } from 'node:fs';
import { HandshakeReader } from './handshake-reader.ts';
import { decodeBackend, encodeFrontend, encodeStartup, PROTOCOL_3, type NoticeFields } from './messages.ts';
import { ScramClient, md5Password, type ChannelBinding } from './scram.ts';
import { tlsServerEndPoint } from './channel-binding.ts';

export interface UpstreamTls {
  mode: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

export interface UpstreamTarget {
  /** the connection's name, for refusals that say which connection and key to change */
  name: string;
  host: string;
  database: string;
  user: string;
  password?: string;
  tls: UpstreamTls;
  /** send a cleartext or md5 password over a link that is not verified TLS */
  allowInsecureAuth?: boolean;
  /** startup parameters passed on from the client (application_name, client_encoding...) */
  params: Record<string, string>;
}

export interface UpstreamSession {
  socket: Duplex;
  /** ParameterStatus and NoticeResponse frames (raw) to replay to the client */
  announced: Buffer[];
  pid: number;
  key: number;
  tls: boolean;
}

/** Failure of the upstream handshake; `fields` holds the server's own error when it sent one. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly fields?: NoticeFields,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** A PEM given inline or as a path. */
function pem(v: string | undefined): string | undefined {
  if (!v) return undefined;
  return v.includes('-----BEGIN') ? v : existsSync(v) ? readFileSync(v, 'utf8') : v;
}

async function startTls(raw: Duplex, reader: HandshakeReader, target: UpstreamTarget): Promise<TLSSocket | null> {
  raw.write(encodeStartup({ type: 'SSLRequest' }));
  const answer = (await reader.bytes(1))[0];
  if (answer !== 0x53) {
    if (target.tls.mode === 'prefer') return null;
    throw new UpstreamError(`the target does not accept TLS (tls.mode is ${target.tls.mode} on connection "${target.name}"; tls: false connects without TLS)`);
  }
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
    secure.once('error', (e) => reject(new UpstreamError(`TLS to the target failed: ${e.message}`)));
  });
  reader.replaceSocket(secure);
  return secure;
}

function needPassword(target: UpstreamTarget, method: string): string {
  if (target.password === undefined) throw new UpstreamError(`the target asks for ${method} authentication but the connection has no password`);
  return target.password;
}

const verifiedModes = new Set<UpstreamTls['mode']>(['verify-ca', 'verify-full']);

/** A password a listener could replay or crack goes only where the connection allows it. */
function insecurePassword(target: UpstreamTarget, method: string, link: TLSSocket | null): string {
  if (!target.allowInsecureAuth && !(link && verifiedModes.has(target.tls.mode))) {
    const over = link ? `TLS that was not verified (tls.mode ${target.tls.mode})` : 'a link without TLS';
    throw new UpstreamError(
      `the target asks for ${method} password authentication over ${over}; the gateway sends such a password only over verified TLS. ` +
        `Use tls.mode verify-ca or verify-full on connection "${target.name}", switch the target to scram-sha-256, or set allowInsecureAuth: true on connection "${target.name}"`,
    );
  }
  return needPassword(target, method);
}

/** SCRAM over TLS binds the exchange to the certificate the gateway sees (see channel-binding.ts). */
function scramFor(target: UpstreamTarget, mechanisms: string[], link: TLSSocket | null): ScramClient {
  const plain = mechanisms.includes('SCRAM-SHA-256');
  let binding: ChannelBinding = { kind: 'n' };
  if (link) {
    const cert = link.getPeerCertificate();
    const data = cert && cert.raw ? tlsServerEndPoint(cert.raw) : null;
    if (data && mechanisms.includes('SCRAM-SHA-256-PLUS')) binding = { kind: 'plus', data };
    else if (data) binding = { kind: 'y' };
  }
  if (binding.kind !== 'plus' && !plain) {
    throw new UpstreamError(`the target offers no supported SASL mechanism (${mechanisms.join(', ') || 'none'})`);
  }
  return new ScramClient(needPassword(target, 'SCRAM-SHA-256'), binding);
}

/** Run the upstream handshake over `raw` (a byte stream from the dialer). */
export async function connectUpstream(raw: Duplex, target: UpstreamTarget): Promise<UpstreamSession> {
  const reader = new HandshakeReader(raw);
  let socket: Duplex = raw;
  try {
    let link: TLSSocket | null = null;
    if (target.tls.mode !== 'disable') {
      link = await startTls(raw, reader, target);
      if (link) socket = link;
    }
    socket.write(encodeStartup({ type: 'Startup', protocol: PROTOCOL_3, params: { ...target.params, user: target.user, database: target.database } }));

    let scram: ScramClient | null = null;
    const announced: Buffer[] = [];
    let pid = 0, key = 0;
    for (;;) {
      const m = await reader.message(true);
      const msg = decodeBackend(m.type, m.payload, 0, m.payload.length);
      switch (msg.type) {
        case 'Authentication': {
          const code = msg.code;
          if (code === 0) {
            // A server that skips SCRAM's last step has not shown it knows the password.
            if (scram && !scram.verified) throw new UpstreamError('the target accepted the login without its SCRAM server signature, so it never proved it knows the password');
            break;
          }
          if (scram && code !== 11 && code !== 12) throw new UpstreamError(`the target switched authentication methods during SCRAM (code ${code})`);
          if (code === 3) socket.write(encodeFrontend({ type: 'Password', data: Buffer.from(insecurePassword(target, 'cleartext', link) + '\0') }));
          else if (code === 5) socket.write(encodeFrontend({ type: 'Password', data: Buffer.from(md5Password(target.user, insecurePassword(target, 'md5', link), msg.data.subarray(0, 4)) + '\0') }));
          else if (code === 10) {
            scram = scramFor(target, msg.data.toString('utf8').split('\0').filter(Boolean), link);
            socket.write(encodeFrontend({ type: 'Password', data: scram.initial() }));
          } else if (code === 11 && scram) socket.write(encodeFrontend({ type: 'Password', data: scram.continue(msg.data.toString('utf8')) }));
          else if (code === 12 && scram) scram.finish(msg.data.toString('utf8'));
          else throw new UpstreamError(`the target asks for an unsupported authentication method (code ${code})`);
          break;
        }
        case 'ErrorResponse':
          throw new UpstreamError(`the target refused the connection: ${msg.fields.M ?? 'error'}`, msg.fields);
        case 'BackendKeyData':
          pid = msg.pid;
          key = msg.key;
          break;
        case 'ParameterStatus':
        case 'NoticeResponse':
          announced.push(Buffer.concat([Buffer.from([m.type]), lengthOf(m.payload), m.payload]));
          break;
        case 'NegotiateProtocolVersion':
          break;
        case 'ReadyForQuery': {
          const rest = reader.detach();
          if (rest) socket.unshift(rest);
          return { socket, announced, pid, key, tls: link !== null };
        }
        default:
          throw new UpstreamError(`unexpected ${msg.type} from the target during startup`);
      }
    }
  } catch (e) {
    reader.detach();
    socket.destroy();
    if (e instanceof UpstreamError) throw e;
    throw new UpstreamError((e as Error).message);
  }
}

function lengthOf(payload: Buffer): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(payload.length + 4);
  return b;
}

