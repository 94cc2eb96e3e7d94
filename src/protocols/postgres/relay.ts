// The data path of one Postgres session once both legs are authenticated. Client
// messages are split into frames; those that run something (Query, Execute,
// FunctionCall) go to the session pipeline first, and the batch is forwarded only
// when every one of them has been judged and recorded. Server frames are forwarded
// as they come, watched by the ResponseTracker to record results.
import type { Duplex } from 'node:stream';
import type { Session } from '../../session/session.ts';
import type { Command, Decision } from '../../session/types.ts';
import type { CaptureLimits } from '../../session/row-capture.ts';
import { FrameSplitter } from './frames.ts';
import { ProtocolError } from './buffers.ts';
import { decodeFrontend, fatalResponse } from './messages.ts';
import { ResponseTracker, type Running } from './responses.ts';
import { bindParams, cstringAt } from './values.ts';
import { raiseExtended, raiseQuery } from './blocked.ts';
import type { TableCatalog } from './catalog.ts';

const Q = 0x51, P = 0x50, B = 0x42, E = 0x45, D = 0x44, C = 0x43, S = 0x53, F = 0x46, X = 0x58;
const BACKLOG_LIMIT = 1 << 20;
/** message types a client may send once the session is up */
const FRONTEND_TYPES = new Set([Q, P, B, E, D, C, S, F, X, 0x48 /* H */, 0x64 /* d */, 0x63 /* c */, 0x66 /* f */]);

/** One message of a client batch that asks the target to run something. */
interface Runnable {
  index: number;
  command: Command;
  decision?: Decision;
}

export interface RelayOptions {
  maxMessageBytes: number;
  limits: CaptureLimits;
  onClose: (reason: string) => void;
  /** table names for masking (null: masking off, or rules by column label only) */
  catalog?: TableCatalog | null;
}

export class PostgresRelay {
  private readonly fromClient: FrameSplitter;
  private readonly fromServer = new FrameSplitter(1 << 30);
  private readonly tracker: ResponseTracker;
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, { text: string; params: (string | null)[] }>();
  private readonly backlog: Buffer[] = [];
  private backlogBytes = 0;
  private busy = false;
  private closed = false;
  private blockedCount = 0;
  /** server bytes that arrived while a result waited for table names, in order */
  private serverWaiting: Buffer[] | null = null;

  constructor(
    private readonly client: Duplex,
    private readonly server: Duplex,
    private readonly session: Session,
    private readonly opts: RelayOptions,
  ) {
    this.fromClient = new FrameSplitter(opts.maxMessageBytes);
    this.tracker = new ResponseTracker(opts.limits, (id, summary) => session.result(id, summary), session.masker, opts.catalog ?? null);
    client.on('data', (d: Buffer) => this.onClientData(d));
    server.on('data', (d: Buffer) => this.onServerData(d));
    client.on('end', () => this.close('client disconnected'));
    client.on('close', () => this.close('client disconnected'));
    client.on('error', (e) => this.close(`client error: ${e.message}`));
    server.on('end', () => this.serverGone('the target closed the connection'));
    server.on('close', () => this.serverGone('the target closed the connection'));
    server.on('error', (e) => this.serverGone(`the target connection failed: ${e.message}`));
    client.on('drain', () => { if (!this.serverWaiting) this.server.resume(); });
    server.on('drain', () => { if (!this.busy) this.client.resume(); });
  }

  /** Feed bytes that arrived before the relay took over the socket. */
  start(leftover: Buffer | null): void {
    if (leftover?.length) this.onClientData(leftover);
  }

  private onClientData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.busy) {
      // Keep reading while a batch is being recorded (pausing costs two syscalls per
      // batch); stop only when a client pushes far ahead of the pipeline.
      this.backlog.push(chunk);
      this.backlogBytes += chunk.length;
      if (this.backlogBytes > BACKLOG_LIMIT) this.client.pause();
      return;
    }
    try {
      this.processClient(chunk);
    } catch (e) {
      this.protocolFailure(e);
    }
  }

  private processClient(chunk: Buffer): void {
    const frames: number[] = [];
    let runnables: Runnable[] | null = null;
    const data = this.fromClient.push(chunk, (type, buf, start, end) => {
      const index = frames.length;
      frames.push(type, start, end);
      if (!FRONTEND_TYPES.has(type)) throw new ProtocolError(`unexpected message type 0x${type.toString(16)} from the client`);
      const command = this.inspect(type, buf, start, end);
      if (command) (runnables ??= []).push({ index, command });
    });
    if (frames.length === 0) return;
    if (!runnables) {
      this.forward(data, frames, null);
      return;
    }
    // Hold the client until every command of the batch is judged and recorded.
    this.busy = true;
    const list: Runnable[] = runnables;
    const fail = (e: unknown) => this.protocolFailure(e);
    if (list.length === 1) {
      const r = list[0]!;
      void this.session.command(r.command).then((d) => {
        r.decision = d;
        this.judged(data, frames, list);
      }, fail);
      return;
    }
    void Promise.all(list.map((r) => this.session.command(r.command))).then((decisions) => {
      for (let i = 0; i < decisions.length; i++) list[i]!.decision = decisions[i];
      this.judged(data, frames, list);
    }, fail);
  }

  private judged(data: Buffer, frames: number[], list: Runnable[]): void {
    this.forward(data, frames, list);
    this.busy = false;
    this.drainBacklog();
  }

  private drainBacklog(): void {
    while (!this.busy && this.backlog.length && !this.closed) {
      try {
        const next = this.backlog.shift()!;
        this.backlogBytes -= next.length;
        this.processClient(next);
      } catch (e) {
        this.protocolFailure(e);
        return;
      }
    }
    if (!this.busy && !this.closed && this.client.isPaused() && !this.server.writableNeedDrain) this.client.resume();
  }

  /** Track statement and portal state; return the command when a frame runs something. */
  private inspect(type: number, buf: Buffer, start: number, end: number): Command | null {
    switch (type) {
      case Q: return { text: cstringAt(buf, start, end)[0], via: 'simple' };
      case P: {
        const m = decodeFrontend(type, buf, start, end);
        if (m.type === 'Parse') this.statements.set(m.name, m.text);
        return null;
      }
      case B: {
        const m = decodeFrontend(type, buf, start, end);
        if (m.type === 'Bind') this.portals.set(m.portal, { text: this.statements.get(m.statement) ?? '', params: bindParams(m.params, m.paramFormats) });
        return null;
      }
      case E: {
        const portal = this.portals.get(cstringAt(buf, start, end)[0]);
        return { text: portal?.text ?? '', params: portal?.params ?? [], via: 'extended' };
      }
      case C: {
        const m = decodeFrontend(type, buf, start, end);
        if (m.type === 'Close') (m.target === 'S' ? this.statements : this.portals).delete(m.name);
        return null;
      }
      case F: {
        const m = decodeFrontend(type, buf, start, end);
        if (m.type !== 'FunctionCall') return null;
        return { text: `-- fast-path function call, function oid ${m.oid}`, params: bindParams(m.args, m.argFormats), via: 'function-call' };
      }
      default: return null;
    }
  }

  /** Send a judged batch upstream, replacing refused commands, and note what the server will answer. */
  private forward(data: Buffer, frames: number[], runnables: Runnable[] | null): void {
    let refused = false;
    if (runnables) for (const r of runnables) if (r.decision!.action !== 'allow') refused = true;
    let next = 0; // runnables are in frame order
    const parts: Buffer[] = [];
    let copyFrom = 0; // start (incl. header) of bytes not yet copied into parts
    const now = Date.now();
    for (let i = 0; i < frames.length; i += 3) {
      const type = frames[i]!, frameStart = frames[i + 1]! - 5, end = frames[i + 2]!;
      const r = runnables !== null && next < runnables.length && runnables[next]!.index === i ? runnables[next++] : undefined;
      const d = r?.decision;
      const run: Running | null = d && d.action === 'allow' ? { commandId: d.commandId, startedAt: now, text: r!.command.text } : null;
      if (d && d.action !== 'allow') {
        if (frameStart > copyFrom) parts.push(data.subarray(copyFrom, frameStart));
        copyFrom = end;
        const message = d.action === 'review' ? `warden: ${d.message}` : `warden: blocked: ${d.reason}`;
        const hint = d.action === 'review' ? `review ${d.reviewId}` : undefined;
        if (type === E) {
          const name = `warden_refused_${++this.blockedCount}`;
          parts.push(raiseExtended(name, message, hint));
          this.tracker.expect('P', true);
          this.tracker.expect('B', true);
          this.tracker.expectExecute(null);
        } else {
          parts.push(raiseQuery(message, hint));
          this.tracker.expectQuery(null);
        }
        continue;
      }
      switch (type) {
        case Q: this.tracker.expectQuery(run); break;
        case F: this.tracker.expectQuery(run, 'F'); break;
        case E: this.tracker.expectExecute(run); break;
        case S: this.tracker.expectSync(); break;
        case P: case B: case C: case D: this.tracker.expect(type === P ? 'P' : type === B ? 'B' : type === C ? 'C' : 'D'); break;
        default: break;
      }
    }
    let out: Buffer;
    if (!refused) out = data;
    else {
      if (copyFrom < data.length) parts.push(data.subarray(copyFrom));
      out = Buffer.concat(parts);
    }
    if (!this.server.write(out)) this.client.pause();
    const last = frames[frames.length - 3];
    if (last === X) this.close('client terminated the session');
  }

  private onServerData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.serverWaiting) {
      this.serverWaiting.push(chunk);
      return;
    }
    let out: Buffer[];
    try {
      out = this.fromServer.pushJudged(chunk, (type, buf, start, end) => this.tracker.onFrame(type, buf, start, end));
    } catch (e) {
      this.serverGone(`the target sent a malformed message: ${(e as Error).message}`);
      return;
    }
    const held = this.fromServer.takeHeld();
    if (out.length > 0) {
      let ok = true;
      if (out.length === 1) ok = this.client.write(out[0]!);
      else {
        // One writev for the pieces around masked or dropped frames.
        this.client.cork();
        for (const b of out) ok = this.client.write(b) && ok;
        this.client.uncork();
      }
      if (!ok) this.server.pause();
    }
    if (held) this.waitForNames(held);
  }

  // A result's rows wait until masking knows which tables its columns come from
  // (one lookup per table per catalog TTL; the lookup never fails, it times out to
  // "unknown", which masks more).
  private waitForNames(held: Buffer): void {
    this.serverWaiting = [held];
    this.server.pause();
    void this.tracker.lookup!.then(() => {
      const chunks = this.serverWaiting!;
      this.serverWaiting = null;
      for (const c of chunks) this.onServerData(c);
      if (!this.serverWaiting && !this.client.writableNeedDrain) this.server.resume();
    });
  }

  private protocolFailure(e: unknown): void {
    const err = e instanceof ProtocolError ? e : new ProtocolError((e as Error).message ?? String(e), 'XX000');
    if (!this.closed && this.client.writable) this.client.write(fatalResponse(err.code, `warden: ${err.message}`));
    this.close(`protocol error: ${err.message}`);
  }

  private serverGone(reason: string): void {
    if (this.closed) return;
    if (this.client.writable) this.client.write(fatalResponse('08006', `warden: ${reason}`));
    this.close(reason);
  }

  close(why: string): void {
    if (this.closed) return;
    this.closed = true;
    const reason = this.tracker.fatal ? `the target ended the session: ${this.tracker.fatal}` : why;
    this.tracker.abandon(reason);
    this.client.end();
    this.server.destroy();
    setTimeout(() => this.client.destroy(), 1000).unref();
    this.opts.onClose(reason);
  }
}
