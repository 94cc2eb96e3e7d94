// The data path of one MySQL session once both legs are authenticated. Client commands
// are taken one at a time: each one that runs something (COM_QUERY, COM_STMT_EXECUTE,
// COM_INIT_DB, COM_FIELD_LIST) is judged and recorded by the session pipeline before it is
// forwarded, and refused in place with an ERR packet otherwise; COM_STMT_PREPARE is checked
// before the server sees it. A command is judged only once the one before it is answered
// in full, so the gateway's view of the session (prepared statement ids, the default
// database, sql_mode and character set, which it asks the server for after anything that
// may change them) is the server's. Server packets are forwarded as they come, watched by
// the ResponseTracker, which masks and records results.
import type { Duplex } from 'node:stream';
import type { Identity } from '../../identity/types.ts';
import type { Session } from '../../session/session.ts';
import type { Command, Decision } from '../../session/types.ts';
import type { CaptureLimits } from '../../session/row-capture.ts';
import type { KillAnswer } from '../engine.ts';
import { classifyMysql, type MysqlDialect } from '../../sql/mysql.ts';
import { flattenStatements, type Classification } from '../../sql/types.ts';
import { COM, ER } from './constants.ts';
import { errPacket } from './messages.ts';
import { framePacket, packetBytes, PacketSplitter, ProtocolError, type Packet } from './packets.ts';
import { ResponseTracker, type Expectation } from './responses.ts';
import { executeParams, PreparedStatements } from './statements.ts';
import { changesState, localInfileNames, mentionsKill, parseKill, readsNoSessionState } from './command-facts.ts';

const QUEUE_LIMIT = 1 << 20;
const STATE_QUERY = 'SELECT DATABASE(), @@SESSION.sql_mode, @@SESSION.character_set_client';

export interface MysqlRelayOptions {
  maxMessageBytes: number;
  limits: CaptureLimits;
  onClose: (reason: string) => void;
  /** CLIENT_DEPRECATE_EOF on both legs */
  deprecateEof: boolean;
  /** the client may send local files (CLIENT_LOCAL_FILES), and the target was asked for them */
  localFiles: boolean;
  dialect: MysqlDialect;
  /** another session of this gateway, by the connection id its client knows: the target's id for it, or why it may not be killed */
  killTarget: (id: number, by: Identity) => Promise<KillAnswer>;
}

type Syntax = NonNullable<Command['syntax']>;

export class MysqlRelay {
  private readonly fromClient: PacketSplitter;
  private readonly fromServer = new PacketSplitter(1 << 30, { reuse: true });
  private readonly tracker: ResponseTracker;
  private readonly statements = new PreparedStatements();
  private readonly queue: Packet[] = [];
  private queueBytes = 0;
  private handling = false;
  private closed = false;
  /** the client is sending a local file the server asked for: its packets pass until an empty one */
  private infile = false;
  /** the session's state must be read from the server before the next command is judged */
  private stale = true;
  private database: string | null = null;
  /** the search path of `database`, made once per change (commands share it) */
  private path: readonly string[] = [];
  private syntax: Syntax | null = null;

  constructor(
    private readonly client: Duplex,
    private readonly server: Duplex,
    private readonly session: Session,
    private readonly opts: MysqlRelayOptions,
  ) {
    this.fromClient = new PacketSplitter(opts.maxMessageBytes);
    this.tracker = new ResponseTracker(opts.limits, (id, summary) => session.result(id, summary), session.masker, opts.deprecateEof);
    client.on('data', (d: Buffer) => this.onClientData(d));
    server.on('data', (d: Buffer) => this.onServerData(d));
    client.on('end', () => this.close('client disconnected'));
    client.on('close', () => this.close('client disconnected'));
    client.on('error', (e) => this.close(`client error: ${e.message}`));
    server.on('end', () => this.serverGone('the target closed the connection'));
    server.on('close', () => this.serverGone('the target closed the connection'));
    server.on('error', (e) => this.serverGone(`the target connection failed: ${e.message}`));
    client.on('drain', () => this.server.resume());
    server.on('drain', () => this.client.resume());
  }

  /** Feed bytes that arrived before the relay took over the socket. */
  start(leftover: Buffer | null): void {
    if (leftover?.length) this.onClientData(leftover);
  }

  // ---- the client's side ------------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.fromClient.push(chunk, (p) => {
        this.queue.push(p);
        this.queueBytes += p.end - p.start + 4;
        return null;
      });
    } catch (e) {
      this.protocolFailure(e, 1);
      return;
    }
    if (this.queueBytes > QUEUE_LIMIT) this.client.pause();
    this.pump();
  }

  /** Take the next client packet when the one before is done and its answer is complete. */
  private pump(): void {
    while (!this.handling && !this.closed && this.queue.length) {
      const p = this.queue[0]!;
      if (this.infile) {
        this.take();
        this.server.write(packetBytes(p));
        if (p.end === p.start) this.infile = false; // the empty packet ends the file
        continue;
      }
      if (!this.tracker.idle) return; // resumed when the answer is complete
      this.take();
      let r: Promise<void> | void;
      try {
        r = this.handle(p);
      } catch (e) {
        this.protocolFailure(e, p.seq + 1);
        return;
      }
      if (r) {
        this.handling = true;
        r.then(
          () => {
            this.handling = false;
            this.pump();
          },
          (e) => this.protocolFailure(e, p.seq + 1),
        );
        return;
      }
    }
    if (!this.closed && this.queueBytes < QUEUE_LIMIT && this.client.isPaused() && !this.server.writableNeedDrain) this.client.resume();
  }

  private take(): void {
    const p = this.queue.shift()!;
    this.queueBytes -= p.end - p.start + 4;
  }

  private handle(p: Packet): Promise<void> | void {
    if (p.end === p.start) throw new ProtocolError('an empty command packet');
    if (p.seq !== 0) throw new ProtocolError(`a command packet with sequence id ${p.seq}; packets out of order`);
    const { buf, start, end } = p;
    switch (buf[start]) {
      case COM.QUIT:
        this.server.write(packetBytes(p));
        this.close('client quit');
        return;
      case COM.QUERY:
        return this.query(p, buf.toString('utf8', start + 1, end), false);
      case COM.STMT_PREPARE:
        return this.prepare(p, buf.toString('utf8', start + 1, end));
      case COM.STMT_EXECUTE:
        return this.execute(p);
      case COM.STMT_FETCH:
        return this.fetch(p);
      case COM.STMT_SEND_LONG_DATA:
        if (end - start < 7) throw new ProtocolError('a short COM_STMT_SEND_LONG_DATA');
        this.statements.longData(buf.readUInt32LE(start + 1), buf.readUInt16LE(start + 5), buf.subarray(start + 7, end));
        this.server.write(packetBytes(p));
        return;
      case COM.STMT_CLOSE:
        if (end - start < 5) throw new ProtocolError('a short COM_STMT_CLOSE');
        this.statements.close(buf.readUInt32LE(start + 1));
        this.server.write(packetBytes(p));
        return;
      case COM.STMT_RESET: {
        const s = end - start >= 5 ? this.statements.get(buf.readUInt32LE(start + 1)) : undefined;
        if (s) {
          s.longData.clear();
          s.longDataBytes = 0;
        }
        return this.forward(p, { kind: 'single', run: null });
      }
      case COM.PING:
      case COM.STATISTICS:
      case COM.SET_OPTION:
        return this.forward(p, { kind: 'single', run: null });
      case COM.RESET_CONNECTION:
        return this.forward(p, {
          kind: 'single', run: null,
          onSingle: (ok) => {
            if (!ok) return;
            this.statements.clear();
            this.stale = true;
          },
        });
      case COM.INIT_DB:
        return this.initDb(p, buf.toString('utf8', start + 1, end));
      case COM.FIELD_LIST:
        return this.fieldList(p);
      case COM.PROCESS_KILL:
        if (end - start < 5) throw new ProtocolError('a short COM_PROCESS_KILL');
        return this.query(p, `KILL CONNECTION ${buf.readUInt32LE(start + 1)}`, true);
      case COM.CHANGE_USER:
        this.refuse(p, 'warden: COM_CHANGE_USER is refused; connect again with the connection name and a token', ER.NOT_SUPPORTED_AUTH_MODE, '08004');
        return;
      default:
        this.refuse(p, `warden: command 0x${buf[start]!.toString(16).padStart(2, '0')} is not supported through the gateway`, ER.UNKNOWN_COM, '08S01');
        return;
    }
  }

  /** Forward a command the server answers with `e` (nothing to judge). */
  private forward(p: Packet, e: Expectation, raw = packetBytes(p)): void {
    this.tracker.expect(e);
    this.server.write(raw);
  }

  /** Answer a command in place with an ERR packet; the server never sees it. */
  private refuse(p: Packet, message: string, code: number = ER.TABLEACCESS_DENIED, sqlState = '42000'): void {
    this.client.write(errPacket(p.seq + 1, code, sqlState, message));
  }

  private refuseDecision(p: Packet, d: Exclude<Decision, { action: 'allow' }>): void {
    this.refuse(p, d.action === 'review' ? `warden: ${d.message} (review ${d.reviewId})` : `warden: blocked: ${d.reason}`);
  }

  private command(text: string, via: string, extra: Partial<Command> = {}): Command {
    return { text, via, searchPath: this.syntax === null ? null : this.path, syntax: this.syntax, ...extra };
  }

  private setDatabase(name: string | null): void {
    if (name === this.database) return;
    this.database = name;
    this.path = name === null ? [] : [name.toLowerCase()];
  }

  private async query(p: Packet, text: string, processKill: boolean): Promise<void> {
    await this.freshState(text);
    if (this.closed) return;
    const c = this.syntax ? classifyMysql(text, this.syntax) : null;
    let forwarded = packetBytes(p);
    let cmd = this.command(text, 'query');
    // a KILL names a connection id: never one the client knows passed on as it is
    if (processKill || mentionsKill(c ?? classifyMysql(text), text)) {
      const k = await this.killCommand(text, c ?? classifyMysql(text));
      if (this.closed) return;
      if ('refused' in k) return this.refuse(p, `warden: ${k.refused}`);
      cmd = this.command(k.text, `kill of gateway connection ${k.id}`);
      forwarded = framePacket(Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from(k.text, 'utf8')]), 0);
    }
    const d = await this.session.command(cmd);
    if (this.closed) return;
    if (d.action !== 'allow') return this.refuseDecision(p, d);
    if (!c || changesState(c)) this.stale = true;
    this.forward(p, {
      kind: 'query',
      run: { commandId: d.commandId, startedAt: Date.now() },
      onLocalInfile: (file, seq) => this.localInfile(cmd.text, c, file, seq),
    }, forwarded);
  }

  /** KILL: only alone, and only of a session of this gateway (its client knows the gateway's ids), rewritten to the target's id. */
  private async killCommand(text: string, c: Classification): Promise<{ text: string; id: number } | { refused: string }> {
    const k = c.statements.length === 1 && c.statements[0]!.node === 'KILL' ? parseKill(text, this.syntax?.sqlMode ?? '') : null;
    if (!k) return { refused: 'KILL is accepted alone, with the connection id the gateway gave a session of yours' };
    const target = await this.opts.killTarget(k.id, this.session.info.identity);
    if ('refused' in target) return target;
    return { text: `KILL ${k.what} ${target.upstreamId}`, id: k.id };
  }

  /** The server asks for a client file (LOAD DATA LOCAL): it goes only for an allowed LOAD DATA LOCAL naming that file. */
  private localInfile(text: string, c: Classification | null, file: string, seq: number): 'forward' | 'refuse' {
    const asked = c !== null && this.opts.localFiles && flattenStatements(c.statements).some((s) => s.copy?.direction === 'from' && !s.copy.file) && localInfileNames(text, this.syntax).includes(file);
    if (asked) {
      this.infile = true;
      queueMicrotask(() => this.pump());
      return 'forward';
    }
    // the server waits for the file: an empty one ends it, and its answer is dropped
    this.server.write(framePacket(Buffer.alloc(0), (seq + 1) & 0xff));
    return 'refuse';
  }

  private async prepare(p: Packet, text: string): Promise<void> {
    await this.freshState();
    if (this.closed) return;
    const syntax = this.syntax;
    const database = this.database;
    if (mentionsKill(syntax ? classifyMysql(text, syntax) : classifyMysql(text), text)) {
      return this.refuse(p, 'warden: KILL is accepted alone in a query, with the connection id the gateway gave a session of yours');
    }
    const refused = await this.session.check(this.command(text, 'prepare'));
    if (this.closed) return;
    if (refused && refused.action !== 'allow') return this.refuseDecision(p, refused);
    this.forward(p, { kind: 'prepare', run: null, onPrepared: (ok) => (ok ? this.statements.prepared(ok, text, syntax, database) : this.statements.failed()) });
  }

  private async execute(p: Packet): Promise<void> {
    const { buf, start, end } = p;
    if (end - start < 5) throw new ProtocolError('a short COM_STMT_EXECUTE');
    const id = buf.readUInt32LE(start + 1);
    const s = this.statements.get(id);
    await this.freshState(s?.text ?? null);
    if (this.closed) return;
    let cmd: Command;
    if (!s) cmd = this.command('', 'execute', { opaque: `COM_STMT_EXECUTE of statement id ${id}, which the target did not prepare on this connection (or it was closed)` });
    else {
      const r = executeParams(s, buf, start, end);
      // names resolve where the statement was prepared, whatever the database is now
      const searchPath = s.syntax === null ? null : s.database === null ? [] : [s.database.toLowerCase()];
      cmd = 'error' in r ? this.command(s.text, 'execute', { syntax: s.syntax, searchPath, opaque: r.error }) : this.command(s.text, 'execute', { params: r.params, syntax: s.syntax, searchPath });
    }
    const d = await this.session.command(cmd);
    if (this.closed) return;
    if (d.action !== 'allow') return this.refuseDecision(p, d);
    const run = { commandId: d.commandId, startedAt: Date.now() };
    if (s) {
      s.longData.clear(); // the server drops them after an execute
      s.longDataBytes = 0;
      s.lastRun = run;
      const c = s.syntax ? classifyMysql(s.text, s.syntax) : null;
      if (!c || changesState(c)) this.stale = true;
    } else this.stale = true;
    this.forward(p, { kind: 'execute', run, onColumns: (defs) => s && (s.resultColumns = defs) });
  }

  private fetch(p: Packet): void {
    const { buf, start, end } = p;
    if (end - start < 9) throw new ProtocolError('a short COM_STMT_FETCH');
    const s = this.statements.get(buf.readUInt32LE(start + 1));
    // without the cursor's columns its rows cannot be masked: refused
    if (!s?.resultColumns) return this.refuse(p, 'warden: COM_STMT_FETCH of a cursor the gateway did not see opened');
    this.forward(p, { kind: 'fetch', run: s.lastRun, columns: s.resultColumns });
  }

  private async initDb(p: Packet, name: string): Promise<void> {
    await this.freshState();
    if (this.closed) return;
    const d = await this.session.command(this.command(`USE \`${name.replace(/`/g, '``')}\``, 'init-db'));
    if (this.closed) return;
    if (d.action !== 'allow') return this.refuseDecision(p, d);
    // the server's OK says the default database is now `name`
    this.forward(p, { kind: 'single', run: { commandId: d.commandId, startedAt: Date.now() }, onSingle: (ok) => ok && this.setDatabase(name) });
  }

  private async fieldList(p: Packet): Promise<void> {
    const { buf, start, end } = p;
    const nul = buf.indexOf(0, start + 1);
    const table = buf.toString('utf8', start + 1, nul < 0 || nul > end ? end : nul);
    await this.freshState();
    if (this.closed) return;
    const d = await this.session.command(this.command(`SHOW COLUMNS FROM \`${table.replace(/`/g, '``')}\``, 'field-list'));
    if (this.closed) return;
    if (d.action !== 'allow') return this.refuseDecision(p, d);
    this.forward(p, { kind: 'fieldlist', run: null });
  }

  /**
   * Read the session's database, sql_mode and character set from the server when they may
   * have changed; not before a statement whose reading cannot depend on them (that query
   * would reset ROW_COUNT() and FOUND_ROWS() for a `CALL p(); SELECT ROW_COUNT()`).
   */
  private freshState(text: string | null = null): Promise<void> | void {
    if (!this.stale) return;
    if (text !== null && this.syntax && readsNoSessionState(text, this.syntax)) return;
    this.stale = false;
    return new Promise<void>((resolve) => {
      this.tracker.expect({
        kind: 'internal', run: null,
        onInternal: (row) => {
          if (!row) {
            // not known now: commands are judged opaque until it is read again
            this.syntax = null;
            this.stale = true;
          } else {
            this.setDatabase(row[0] ?? null);
            const next = { dialect: this.opts.dialect, sqlMode: row[1] ?? '', charset: row[2] ?? 'utf8mb4' };
            const s = this.syntax;
            // the same object while nothing changed: the classifier caches by it
            if (!s || s.sqlMode !== next.sqlMode || s.charset !== next.charset) this.syntax = next;
          }
          resolve();
        },
      });
      this.server.write(framePacket(Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from(STATE_QUERY)]), 0));
    });
  }

  // ---- the server's side ------------------------------------------------------------------

  private onServerData(chunk: Buffer): void {
    if (this.closed) return;
    let out: Buffer[];
    try {
      out = this.fromServer.push(chunk, (p) => this.tracker.onPacket(p));
    } catch (e) {
      const err = e as Error;
      this.serverGone(`out of step with the target: ${err.message}`);
      return;
    }
    if (out.length) {
      let ok = true;
      if (out.length === 1) ok = this.client.write(out[0]!);
      else {
        this.client.cork();
        for (const b of out) ok = this.client.write(b) && ok;
        this.client.uncork();
      }
      if (!ok) this.server.pause();
    }
    if (this.tracker.idle && this.queue.length) this.pump();
  }

  private protocolFailure(e: unknown, seq: number): void {
    const err = e as Error;
    const code = e instanceof ProtocolError ? e.code : ER.INTERNAL;
    if (!this.closed && this.client.writable) this.client.write(errPacket(seq & 0xff, code, '08S01', `warden: ${err.message}`));
    this.close(`protocol error: ${err.message}`);
  }

  private serverGone(reason: string): void {
    if (this.closed) return;
    // A client between commands is told why rather than left to guess from a bare close,
    // with a server error code of the connection class (codes from 2000 are the client
    // library's own; MariaDB's client calls such an ERR from a server malformed). Sequence
    // id 1: a client that reads only after sending (libmysqlclient, the mysql CLI) takes it
    // as the answer to its next command; an asynchronous one (mysql2) as the server's last
    // words. A command in flight ends with the lost connection, as when a server dies.
    if (this.tracker.idle && !this.handling && this.client.writable) this.client.write(errPacket(1, ER.SERVER_SHUTDOWN, '08S01', `warden: ${reason}`));
    this.close(reason);
  }

  /**
   * The session was ended from outside (an admin): a client between commands gets an ERR
   * saying so (as serverGone: a command in flight ends with the lost connection, an ERR in
   * the middle of a result would be out of step), then both legs close.
   */
  terminate(reason: string): void {
    if (this.closed) return;
    if (this.tracker.idle && !this.handling && this.client.writable) this.client.write(errPacket(1, ER.SERVER_SHUTDOWN, '08S01', `warden: connection ended: ${reason}`));
    this.close(reason);
  }

  close(why: string): void {
    if (this.closed) return;
    if (process.env.WARDEN_DEBUG_MYSQL) console.error('relay close:', why, new Error().stack);
    this.closed = true;
    this.tracker.abandon(why);
    this.client.end();
    this.server.destroy();
    setTimeout(() => this.client.destroy(), 1000).unref();
    this.opts.onClose(why);
  }
}
