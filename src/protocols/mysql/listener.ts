// The MySQL / MariaDB front door: accepts stock clients, negotiates TLS, gets the caller's
// Warden token out of its auth plugin (user = connection name, password = token), opens the
// gateway's own session to the target with the capabilities the client asked for, and hands
// both legs to the relay. It keeps the connection ids it gave clients, so a client's KILL
// (the mysql client's Ctrl-C sends one on a second connection) reaches the target's session.
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Identity } from '../../identity/types.ts';
import type { MysqlConnectionConfig } from '../../config/schema.ts';
import type { OpenSession, Protocol, SessionObserver } from '../../session/types.ts';
import { noSuchConnection, type ConnectionIds, type KillAnswer } from '../engine.ts';
import type { AdmissionAnswer } from '../../session/admission.ts';
import { mysqlRefusal } from './admission-codes.ts';
import type { CaptureLimits } from '../../session/row-capture.ts';
import { CLIENT } from './constants.ts';
import { encodeOk, errPacket } from './messages.ts';
import { framePacket, ProtocolError } from './packets.ts';
import { HandshakeReader } from './handshake-reader.ts';
import { greetCaller, greetInProcess, HandshakeRefusal, type CallerCredential, type CallerHello } from './caller-auth.ts';
import { connectUpstream, MysqlUpstreamError, type MysqlUpstreamTls } from './upstream.ts';
import { MysqlRelay } from './relay.ts';
import type { RsaKeys } from './auth.ts';
import { decodeGreeting } from './messages.ts';
import { listenOn } from '../listen-on.ts';
import { HandshakeSlots } from '../handshake-slots.ts';

export interface MysqlFrontDoorDeps {
  /** who is this and may they use that connection? (audits refusals itself) */
  admit(req: { credential: CallerCredential; connection: string; clientAddr: string }): Promise<AdmissionAnswer<MysqlConnectionConfig>>;
  /** could this mysql_native_password scramble be an API key's? (else the client is asked for the token) */
  nativeKnown?(scramble: Buffer, response: Buffer): Promise<boolean>;
  openSession: OpenSession;
  /** a caller has `timeoutMs` from connecting to being admitted; at most `maxPending` callers are that far at once */
  handshake: { timeoutMs: number; maxPending: number };
  /** a connection refused before it could authenticate (counted and summarised, never audited one by one) */
  onRefused(reason: 'handshake_timeout' | 'too_many_handshakes', clientAddr: string): void;
  /** a byte stream to the target, through the connection's agent */
  dial(connection: MysqlConnectionConfig): Promise<Duplex>;
  tls: { cert: string; key: string } | null;
  /** the key pair a client without TLS encrypts its token with (caching_sha2_password) */
  rsa: RsaKeys;
  maxMessageBytes: number;
  limits: CaptureLimits;
  log: Logger;
  /** a connection whose server version the greeting shows until a session reaches one (clients adapt to it) */
  probe?: MysqlConnectionConfig;
  /** the ids this door gives when other threads' doors share its port (default: any) */
  connectionIds?: ConnectionIds;
  /** a KILL of an id another thread gave (connectionIds) */
  killElsewhere?(id: number, by: Identity, connection: string): Promise<KillAnswer>;
}

interface Live {
  relay: MysqlRelay;
  /** the target's id of this session (for KILL) */
  upstreamId: number;
  subject: string;
  connection: string;
}

function upstreamTls(c: MysqlConnectionConfig): MysqlUpstreamTls {
  if (c.tls === undefined || c.tls === false) return { mode: c.tls === false ? 'disable' : 'prefer' };
  if (c.tls === true) return { mode: 'require' };
  return c.tls;
}

export class MysqlFrontDoor {
  private server: Server | null = null;
  private readonly secure: SecureContext | null;
  private readonly live = new Map<number, Live>();
  private readonly ids: ConnectionIds;
  /** connections accepted and not yet admitted */
  private readonly slots: HandshakeSlots;
  /** the next id is ids.offset + ids.stride * step */
  private step = 1 + Math.floor(Math.random() * 1000);
  /** the version the greeting announces: the last target's, since clients adapt to it */
  private version = '8.0.36-warden';

  constructor(private readonly deps: MysqlFrontDoorDeps) {
    this.secure = deps.tls ? createSecureContext({ cert: deps.tls.cert, key: deps.tls.key }) : null;
    this.ids = deps.connectionIds ?? { offset: 0, stride: 1 };
    this.slots = new HandshakeSlots(deps.handshake);
  }

  /** `reusePort`: data-plane worker threads listen on the same port (src/gateway/workers) */
  listen(host: string, port: number, reusePort = false): Promise<{ host: string; port: number }> {
    const server = createServer({ noDelay: true }, (s) => void this.accept(s));
    this.server = server;
    if (this.deps.probe) void this.learnVersion(this.deps.probe);
    return listenOn(server, host, port, reusePort);
  }

  get activeSessions(): number {
    return this.live.size;
  }

  get pendingHandshakes(): number {
    return this.slots.pending;
  }

  async close(): Promise<void> {
    for (const l of this.live.values()) l.relay.close('gateway shutting down');
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The target's greeting names its version; no credential is used. */
  private async learnVersion(c: MysqlConnectionConfig): Promise<void> {
    try {
      const s = await this.deps.dial(c);
      const reader = new HandshakeReader(s, 1 << 16);
      const timer = setTimeout(() => s.destroy(), 5000);
      const p = await reader.packet().finally(() => clearTimeout(timer));
      reader.detach();
      s.destroy();
      if (this.version === '8.0.36-warden') this.version = decodeGreeting(p.payload, 0, p.payload.length).version;
    } catch {
      // the target is not there yet: the first session's greeting will tell
    }
  }

  private newId(): number {
    const { offset, stride } = this.ids;
    let id: number;
    do {
      this.step++;
      if (offset + stride * this.step >= 0xfffffff0) this.step = 1;
      id = offset + stride * this.step;
    } while (this.live.has(id));
    return id;
  }

  // Until a caller is admitted it holds a slot and runs against a deadline (HandshakeSlots).
  private async accept(raw: Socket): Promise<void> {
    const clientAddr = `${raw.remoteAddress}:${raw.remotePort}`;
    raw.on('error', () => {});
    let hello: CallerHello | null = null;
    const refuse = (seq: number, code: number, sqlState: string, message: string) => {
      const socket = hello?.socket ?? raw;
      if (socket.writable) socket.end(errPacket(seq & 0xff, code, sqlState, message));
      hello?.reader.detach();
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    let expired = false;
    const slot = this.slots.take(() => {
      expired = true;
      this.deps.onRefused('handshake_timeout', clientAddr);
      // the client may be anywhere in its login (or in TLS): told when it can read it, closed in any case
      refuse(hello?.nextSeq ?? 1, 1043, '08S01', `warden: no login within ${this.deps.handshake.timeoutMs / 1000} s; closing the connection`);
      setTimeout(() => raw.destroy(), 1000).unref();
    });
    if (!slot) {
      this.deps.onRefused('too_many_handshakes', clientAddr);
      // what MySQL sends in place of its greeting when it has no room (ER_CON_COUNT_ERROR)
      raw.end(errPacket(0, 1040, '08004', 'warden: too many connections are logging in at once; try again shortly'));
      setTimeout(() => raw.destroy(), 1000).unref();
      return;
    }
    const id = this.newId();
    try {
      try {
        hello = await greetCaller(raw, { connectionId: id, version: this.version, secure: this.secure, rsa: this.deps.rsa, nativeKnown: this.deps.nativeKnown });
      } catch (e) {
        if (e instanceof HandshakeRefusal) return refuse(e.seq, e.code, e.sqlState, `warden: ${e.message}`);
        throw e;
      }
      if (expired) return; // the deadline passed while the caller's login was read
      const seq = hello.nextSeq;
      const name = hello.user;
      if (!name) return refuse(seq, 1045, '28000', 'warden: no user given; connect with -u <connection name>');
      const answer = await this.deps.admit({ credential: hello.credential, connection: name, clientAddr });
      if (expired) return;
      if (!answer.ok) {
        const r = mysqlRefusal(answer.refusal);
        return refuse(seq, r.code, r.sqlState, `warden: ${r.message}`);
      }
      slot.release();
      await this.serve(id, hello, { identity: answer.identity, connection: answer.connection, clientAddr, protocol: 'mysql', auth: hello.credential.kind === 'native' ? 'mysql_native_password' : 'token', refuse });
    } catch (e) {
      const err = e as Error;
      const seq = hello?.nextSeq ?? 1;
      if (expired) return; // refused and closed at the deadline
      if (err instanceof ProtocolError) refuse(seq, err.code, '08S01', `warden: ${err.message}`);
      else if (/closed during the handshake/.test(err.message)) raw.destroy();
      else {
        this.deps.log.error({ err: err.message, clientAddr }, 'mysql front door failed');
        refuse(seq, 1815, 'HY000', 'warden: internal error');
      }
    } finally {
      slot.release();
    }
  }

  /**
   * An in-process client (the MCP tools, `warden exec`): a byte stream inside the gateway, a
   * caller the gateway already admitted; the session records its real front door.
   */
  async attach(stream: Duplex, a: { identity: Identity; connection: MysqlConnectionConfig; protocol: Protocol; clientAddr: string; observer?: SessionObserver }): Promise<void> {
    const id = this.newId();
    let hello: Omit<CallerHello, 'credential'> | null = null;
    const refuse = (seq: number, code: number, sqlState: string, message: string) => {
      if (stream.writable) stream.end(errPacket(seq & 0xff, code, sqlState, message));
      hello?.reader.detach();
    };
    try {
      hello = await greetInProcess(stream, { connectionId: id, version: this.version });
      await this.serve(id, hello, { ...a, auth: 'in-process', refuse });
    } catch (e) {
      const err = e as Error;
      refuse(hello?.nextSeq ?? 1, err instanceof ProtocolError ? err.code : 1815, 'HY000', `warden: ${err.message}`);
    }
  }

  /** An admitted caller: the gateway's own session to the target, the pipeline's session, the relay. */
  private async serve(
    id: number,
    hello: Omit<CallerHello, 'credential'>,
    a: { identity: Identity; connection: MysqlConnectionConfig; clientAddr: string; protocol: Protocol; auth: string; observer?: SessionObserver; refuse(seq: number, code: number, sqlState: string, message: string): void },
  ): Promise<void> {
    const { identity, connection } = a;
    const seq = hello.nextSeq;
    const database = hello.database ?? connection.database ?? null;
    let upstream;
    try {
      const stream = await this.deps.dial(connection);
      upstream = await connectUpstream(stream, {
        host: connection.host, user: connection.user, password: connection.password, database, tls: upstreamTls(connection),
        clientCapabilities: hello.capabilities, charset: hello.charset,
        attributes: new Map([['program_name', `warden (${hello.attributes.get('program_name') ?? 'client'})`], ['warden_identity', identity.name]]),
      });
    } catch (e) {
      const msg = (e as Error).message;
      this.deps.log.warn({ connection: connection.name, err: msg }, 'upstream connection failed');
      const code = e instanceof MysqlUpstreamError && e.code ? e.code : 2003;
      return a.refuse(seq, code, e instanceof MysqlUpstreamError && e.sqlState ? e.sqlState : 'HY000', `warden: cannot reach connection "${connection.name}": ${msg}`);
    }
    this.version = upstream.greeting.version;
    const session = await this.deps.openSession({
      identity, connection: connection.name, connectionType: 'mysql', protocol: a.protocol, clientAddr: a.clientAddr,
      attributes: {
        tls: String(hello.tls), upstreamTls: String(upstream.tls), database: database ?? '',
        program_name: hello.attributes.get('program_name') ?? '', connectionId: String(id), auth: a.auth,
      },
    }, { observer: a.observer });
    const leftover = hello.reader.detach();
    hello.socket.write(framePacket(encodeOk({ status: upstream.status }), seq));
    const dialect = /mariadb/i.test(upstream.greeting.version) ? 'mariadb' : 'mysql';
    const relay: MysqlRelay = new MysqlRelay(hello.socket, upstream.socket, session, {
      maxMessageBytes: this.deps.maxMessageBytes,
      limits: this.deps.limits,
      deprecateEof: (hello.capabilities & CLIENT.DEPRECATE_EOF) !== 0,
      localFiles: (hello.capabilities & upstream.capabilities & CLIENT.LOCAL_FILES) !== 0,
      dialect,
      killTarget: (target, by) => this.kill(target, by, connection.name),
      onClose: (reason) => {
        this.live.delete(id);
        void session.end(reason);
      },
    });
    session.onTerminate((reason) => relay.terminate(reason));
    this.live.set(id, { relay, upstreamId: upstream.greeting.connectionId, subject: identity.subject, connection: connection.name });
    relay.start(leftover);
  }

  /** A KILL of gateway connection `id` by a client of this door: the thread that gave the id answers. */
  private kill(id: number, by: Identity, connection: string): Promise<KillAnswer> {
    const { offset, stride } = this.ids;
    if (id % stride === offset || !this.deps.killElsewhere) return Promise.resolve(this.killTarget(id, by, connection));
    return this.deps.killElsewhere(id, by, connection);
  }

  /** A KILL of gateway connection `id`, one this door gave: the same caller's session on the same connection only. */
  killTarget(id: number, by: Identity, connection: string): KillAnswer {
    const l = this.live.get(id);
    if (!l) return noSuchConnection(id);
    if (l.subject !== by.subject) return { refused: `connection ${id} is not one of your sessions` };
    if (l.connection !== connection) return { refused: `connection ${id} is a session of connection "${l.connection}"; kill it through that connection` };
    return { upstreamId: l.upstreamId };
  }
}
