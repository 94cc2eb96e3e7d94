// The Postgres front door: accepts native clients, negotiates TLS, authenticates the
// caller by access token (user = connection name, password = token), opens the
// gateway's own session to the target, and hands both legs to the relay.
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Identity } from '../../identity/types.ts';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import type { OpenSession, Protocol, SessionObserver } from '../../session/types.ts';
import type { AdmissionAnswer, AdmissionCredential } from '../../session/admission.ts';
import { postgresRefusal } from './admission-codes.ts';
import type { CaptureLimits } from '../../session/row-capture.ts';
import { HandshakeReader } from './handshake-reader.ts';
import { decodeBackend, decodeStartup, encodeBackend, encodeStartup, fatalResponse } from './messages.ts';
import { ProtocolError } from './buffers.ts';
import { connectUpstream, UpstreamError, type UpstreamTls } from './upstream.ts';
import { CancelRegistry } from './cancel.ts';
import { PostgresRelay } from './relay.ts';
import { catalogQueryOver, TableCatalog, type CatalogQuery } from './catalog.ts';
import { FunctionCatalog, SessionFunctions } from './functions.ts';
import { listenOn } from '../listen-on.ts';
import { HandshakeSlots } from '../handshake-slots.ts';
import type { ConnectionIds } from '../engine.ts';

/** The deadline and slot of one connection until it is admitted. */
interface HandshakeGuard {
  /** end the handshake with this message (the deadline passed) */
  expire(message: string): void;
  /** the caller is admitted (or gone): free the slot, stop the deadline */
  admitted(): void;
}

export interface PostgresFrontDoorDeps {
  /** who is this and may they use that connection? (audits refusals itself) */
  admit(req: { credential: AdmissionCredential; connection: string; clientAddr: string }): Promise<AdmissionAnswer<PostgresConnectionConfig>>;
  openSession: OpenSession;
  /** do the rules (or masking) of this connection read schemas, so the session's search_path must be known? */
  searchPathMatters?(connection: PostgresConnectionConfig): boolean;
  /** a byte stream to the target, through the connection's agent */
  dial(connection: PostgresConnectionConfig): Promise<Duplex>;
  tls: { cert: string; key: string } | null;
  /** a caller has `timeoutMs` from connecting to sending its token; at most `maxPending` callers are that far at once */
  handshake: { timeoutMs: number; maxPending: number };
  /** a connection refused before it could authenticate (counted and summarised, never audited one by one) */
  onRefused(reason: 'handshake_timeout' | 'too_many_handshakes', clientAddr: string): void;
  maxMessageBytes: number;
  limits: CaptureLimits;
  log: Logger;
  /** the cancel-key pids this door gives when other threads' doors share its port (default: any) */
  connectionIds?: ConnectionIds;
  /** a CancelRequest whose pid another data-plane thread gave (connectionIds) */
  cancelElsewhere?(pid: number, key: number): void;
}

// Startup parameters a client may pass on to the target; user, database, replication
// and options (which could set role or search_path behind the rules' back) stay ours.
const PASSED_PARAMS = new Set(['application_name', 'client_encoding', 'DateStyle', 'datestyle', 'TimeZone', 'timezone', 'extra_float_digits', 'IntervalStyle', 'intervalstyle', 'search_path']);

// No `tls` key means `require`: with `prefer`, an active attacker on the path answers the
// SSLRequest with N and reads everything. Unverified TLS still stops a passive listener, and
// SCRAM-SHA-256-PLUS binds the login to the certificate, so an active one cannot log in
// through its own certificate either. A target without TLS (the demo, a local trust-auth
// server) says so with `tls: false`.
function upstreamTls(c: PostgresConnectionConfig): UpstreamTls {
  if (c.tls === undefined || c.tls === true) return { mode: 'require' };
  if (c.tls === false) return { mode: 'disable' };
  return c.tls;
}

export class PostgresFrontDoor {
  private server: Server | null = null;
  private readonly cancels: CancelRegistry;
  private readonly relays = new Set<PostgresRelay>();
  private readonly secure: SecureContext | null;
  /** table names per connection (per config object: a reloaded connection starts afresh) */
  private readonly catalogs = new WeakMap<PostgresConnectionConfig, TableCatalog>();
  /** the target's functions per connection, shared by its sessions */
  private readonly functionCatalogs = new WeakMap<PostgresConnectionConfig, FunctionCatalog>();
  /** one side-connection query per connection, for both catalogs */
  private readonly sideQueries = new WeakMap<PostgresConnectionConfig, CatalogQuery>();
  /** connections accepted and not yet past the caller's part of the handshake */
  private readonly slots: HandshakeSlots;

  constructor(private readonly deps: PostgresFrontDoorDeps) {
    this.secure = deps.tls ? createSecureContext({ cert: deps.tls.cert, key: deps.tls.key }) : null;
    this.slots = new HandshakeSlots(deps.handshake);
    this.cancels = new CancelRegistry(deps.connectionIds);
  }

  listen(host: string, port: number, reusePort = false): Promise<{ host: string; port: number }> {
    const server = createServer({ noDelay: true }, (s) => void this.accept(s));
    this.server = server;
    return listenOn(server, host, port, reusePort);
  }

  get activeSessions(): number {
    return this.relays.size;
  }

  async close(): Promise<void> {
    for (const r of this.relays) r.close('gateway shutting down');
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get pendingHandshakes(): number {
    return this.slots.pending;
  }

  // Until a caller is admitted it holds a slot and runs against a deadline (HandshakeSlots).
  private async accept(raw: Socket): Promise<void> {
    const clientAddr = `${raw.remoteAddress}:${raw.remotePort}`;
    raw.on('error', () => {});
    const slot = this.slots.take(() => {
      this.deps.onRefused('handshake_timeout', clientAddr);
      guard.expire(`warden: no login within ${this.deps.handshake.timeoutMs / 1000} s; closing the connection`);
    });
    if (!slot) {
      this.deps.onRefused('too_many_handshakes', clientAddr);
      // What Postgres answers when it has no room: an ErrorResponse, which libpq reads even in place of the SSLRequest answer.
      raw.end(fatalResponse('53300', 'warden: too many connections are logging in at once; try again shortly'));
      setTimeout(() => raw.destroy(), 1000).unref();
      return;
    }
    const guard: HandshakeGuard = { expire: () => raw.destroy(), admitted: slot.release };
    try {
      await this.handshake(raw, clientAddr, guard);
    } finally {
      guard.admitted();
    }
  }

  private async handshake(raw: Socket, clientAddr: string, guard: HandshakeGuard): Promise<void> {
    let socket: Duplex = raw;
    const reader = new HandshakeReader(raw, 64 * 1024);
    const refuse = (sqlstate: string, message: string) => {
      if (socket.writable) socket.end(fatalResponse(sqlstate, message));
      reader.detach();
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    guard.expire = (message) => refuse('08006', message);
    try {
      let startup;
      for (;;) {
        const m = await reader.message(false);
        startup = decodeStartup(m.payload, 0, m.payload.length);
        if (startup.type === 'SSLRequest') {
          if (socket !== raw || !this.secure) {
            socket.write('N');
            continue;
          }
          raw.write('S');
          const leftover = reader.detach();
          if (leftover) throw new ProtocolError('unexpected data after SSLRequest');
          const tls = new TLSSocket(raw, { isServer: true, secureContext: this.secure });
          tls.on('error', () => {});
          socket = tls;
          reader.replaceSocket(tls);
          continue;
        }
        if (startup.type === 'GSSENCRequest') {
          socket.write('N'); // GSSAPI encryption is not offered; clients fall back to TLS or plain.
          continue;
        }
        break;
      }
      if (startup.type === 'CancelRequest') {
        reader.detach();
        raw.destroy();
        const target = this.cancels.lookup(startup.pid, startup.key);
        if (target) await target.cancel().catch(() => {});
        else if (!this.cancels.gave(startup.pid)) this.deps.cancelElsewhere?.(startup.pid, startup.key);
        return;
      }
      if (startup.type !== 'Startup') throw new ProtocolError('expected a startup message');
      const params = startup.params;
      const connectionName = params.user;
      if (!connectionName) return refuse('28000', 'warden: no user given; connect with user=<connection name>');
      if (params.replication && params.replication !== 'false') return refuse('28000', 'warden: replication connections are not supported');

      socket.write(encodeBackend({ type: 'Authentication', code: 3, data: Buffer.alloc(0) }));
      const pw = await reader.message(true);
      if (pw.type !== 0x70) throw new ProtocolError('expected a password message');
      const token = pw.payload.toString('utf8').replace(/\0$/, '');

      const answer = await this.deps.admit({ credential: { kind: 'token', token }, connection: connectionName, clientAddr });
      if (!answer.ok) {
        const r = postgresRefusal(answer.refusal);
        return refuse(r.sqlstate, `warden: ${r.message}`);
      }
      guard.admitted();
      if (raw !== socket) raw.setNoDelay(true);
      await this.serve(socket, reader, { identity: answer.identity, connection: answer.connection, params, clientAddr, protocol: 'postgres', tls: socket !== raw, refuse });
    } catch (e) {
      const err = e as Error;
      if (err instanceof ProtocolError) refuse(err.code, `warden: ${err.message}`);
      else if (/closed during the handshake/.test(err.message)) socket.destroy();
      else {
        this.deps.log.error({ err: err.message, clientAddr }, 'postgres front door failed');
        refuse('XX000', `warden: internal error`);
      }
    }
  }

  /**
   * An in-process client (the MCP tools, `warden exec`): a byte stream inside the gateway, a
   * caller the gateway already admitted. The client's startup message is read for its
   * parameters; no password is asked. The session records its real front door.
   */
  async attach(stream: Duplex, a: { identity: Identity; connection: PostgresConnectionConfig; protocol: Protocol; clientAddr: string; observer?: SessionObserver }): Promise<void> {
    const reader = new HandshakeReader(stream, 64 * 1024);
    const refuse = (sqlstate: string, message: string) => {
      if (stream.writable) stream.end(fatalResponse(sqlstate, message));
      reader.detach();
    };
    try {
      const m = await reader.message(false);
      const startup = decodeStartup(m.payload, 0, m.payload.length);
      if (startup.type !== 'Startup') throw new ProtocolError('expected a startup message');
      await this.serve(stream, reader, { ...a, params: startup.params, tls: false, refuse });
    } catch (e) {
      const err = e as Error;
      refuse(err instanceof ProtocolError ? err.code : 'XX000', `warden: ${err.message}`);
    }
  }

  /** Cancel the statement running in the session whose client was given this key (an in-process client's timeout, another thread's CancelRequest). */
  async cancel(pid: number, key: number): Promise<void> {
    await this.cancels.lookup(pid, key)?.cancel();
  }

  /** An admitted caller: the gateway's own session to the target, the pipeline's session, the relay. */
  private async serve(
    socket: Duplex,
    reader: HandshakeReader,
    a: { identity: Identity; connection: PostgresConnectionConfig; params: Record<string, string>; clientAddr: string; protocol: Protocol; tls: boolean; observer?: SessionObserver; refuse(sqlstate: string, message: string): void },
  ): Promise<void> {
    const { identity, connection, params } = a;
    const passed: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (PASSED_PARAMS.has(k)) passed[k] = v;

    let upstream;
    try {
      upstream = await this.connectTarget(connection, passed);
    } catch (e) {
      const msg = e instanceof UpstreamError && e.fields?.M ? `the target refused the connection: ${e.fields.M}` : (e as Error).message;
      this.deps.log.warn({ connection: connection.name, err: msg }, 'upstream connection failed');
      return a.refuse(e instanceof UpstreamError && e.fields?.C ? e.fields.C : '08006', `warden: cannot reach connection "${connection.name}": ${msg}`);
    }

    const functions = this.functionsFor(connection);
    const sessionFunctions = new SessionFunctions(functions);
    const session = await this.deps.openSession({
      identity, connection: connection.name, connectionType: 'postgres', protocol: a.protocol, clientAddr: a.clientAddr,
      attributes: { tls: String(a.tls), upstreamTls: String(upstream.tls), application_name: params.application_name ?? '', database: params.database ?? '' },
    }, { target: sessionFunctions, observer: a.observer });
    const upstreamKey = { pid: upstream.pid, key: upstream.key };
    let relayed: PostgresRelay | null = null;
    const cancelAtTarget = async () => {
      const s = await this.deps.dial(connection);
      s.end(encodeStartup({ type: 'CancelRequest', ...upstreamKey }));
    };
    const ticket = this.cancels.register({
      cancel: async () => {
        // a statement not yet sent is cancelled at the gateway; one running, at the target
        if (relayed?.cancelUnsent()) return;
        await cancelAtTarget();
      },
    });

    const leftover = reader.detach();
    socket.write(Buffer.concat([
      encodeBackend({ type: 'Authentication', code: 0, data: Buffer.alloc(0) }),
      ...upstream.announced,
      encodeBackend({ type: 'BackendKeyData', pid: ticket.pid, key: ticket.key }),
      encodeBackend({ type: 'ReadyForQuery', status: 'I' }),
    ]));
    const relay: PostgresRelay = new PostgresRelay(socket, upstream.socket, session, {
      maxMessageBytes: this.deps.maxMessageBytes,
      limits: this.deps.limits,
      catalog: session.masker?.enabled ? this.catalogFor(connection) : null,
      functions: { catalog: functions, session: sessionFunctions },
      trackSearchPath: this.deps.searchPathMatters?.(connection) ?? false,
      startupSearchPath: passed.search_path !== undefined,
      backslashQuotes: announcedOff(upstream.announced, 'standard_conforming_strings'),
      onClose: (reason) => {
        this.relays.delete(relay);
        ticket.release();
        void session.end(reason);
      },
    });
    this.relays.add(relay);
    session.onTerminate((reason) => {
      // A statement running at the target would keep its backend busy until it next writes
      // to the closed socket (pg_sleep, a long scan): cancel it there too. Harmless when idle.
      void cancelAtTarget().catch(() => {});
      relay.terminate(reason);
    });
    relayed = relay;
    relay.start(leftover);
  }

  /** The gateway's own session to the target: through its agent, with the connection's credentials. */
  private async connectTarget(connection: PostgresConnectionConfig, params: Record<string, string>) {
    const stream = await this.deps.dial(connection);
    return connectUpstream(stream, {
      name: connection.name, host: connection.host, database: connection.database, user: connection.user, password: connection.password,
      tls: upstreamTls(connection), allowInsecureAuth: connection.allowInsecureAuth, params,
    });
  }

  /** Lookups on a short connection of the gateway's own to the target (its credentials, its agent). */
  private sideQuery(connection: PostgresConnectionConfig): CatalogQuery {
    let q = this.sideQueries.get(connection);
    if (!q) this.sideQueries.set(connection, (q = catalogQueryOver(() => this.connectTarget(connection, { application_name: 'warden catalog' }))));
    return q;
  }

  private catalogFor(connection: PostgresConnectionConfig): TableCatalog {
    let c = this.catalogs.get(connection);
    if (!c) {
      const onFailure = (e: Error) => this.deps.log.warn({ connection: connection.name, err: e.message }, 'table names lookup failed; rules naming a table match by column alone');
      this.catalogs.set(connection, (c = new TableCatalog(this.sideQuery(connection), { onFailure })));
    }
    return c;
  }

  private functionsFor(connection: PostgresConnectionConfig): FunctionCatalog {
    let c = this.functionCatalogs.get(connection);
    if (!c) {
      const onFailure = (e: Error) => this.deps.log.warn({ connection: connection.name, err: e.message }, 'function lookup failed; calls of functions are judged opaque (onUnknown)');
      this.functionCatalogs.set(connection, (c = new FunctionCatalog(this.sideQuery(connection), { onFailure })));
    }
    return c;
  }
}

/** Did the target announce this boolean setting as off (its ParameterStatus at startup)? */
function announcedOff(announced: readonly Buffer[], name: string): boolean {
  for (const frame of announced) {
    if (frame[0] !== 0x53) continue; // ParameterStatus
    const m = decodeBackend(frame[0], frame, 5, frame.length);
    if (m.type === 'ParameterStatus' && m.name === name) return m.value !== 'on';
  }
  return false;
}
