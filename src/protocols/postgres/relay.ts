// The data path of one Postgres session once both legs are authenticated. Client bytes
// are split into frames and read as batches: every frame that runs something (Query,
// Execute, FunctionCall) is judged and recorded by the session pipeline, and every Parse
// is checked, before any of the batch is forwarded. What an Execute runs is what the
// server will run: the portal's statement as the server holds it (ServerState, changed
// only by the server's answers), predicted exactly within a Sync window; when it cannot
// be told, the batch waits for the server's answers first. Server frames are forwarded
// as they come, watched by the ResponseTracker, which masks and records results.
import type { Duplex } from 'node:stream';
import type { Session } from '../../session/session.ts';
import type { Command, Decision } from '../../session/types.ts';
import type { CaptureLimits } from '../../session/row-capture.ts';
import { classifyPostgres } from '../../sql/postgres.ts';
import { flattenStatements, type Classification, type SessionEffect } from '../../sql/types.ts';
import { FrameSplitter } from './frames.ts';
import { ProtocolError } from './buffers.ts';
import { decodeFrontend, encodeFrontend, fatalResponse } from './messages.ts';
import { ResponseTracker, type CalledFunction, type Running } from './responses.ts';
import { bindParams, cstringAt } from './values.ts';
import { raiseExtended, raiseQuery } from './blocked.ts';
import type { TableCatalog } from './catalog.ts';
import { ServerState, type Op, type PortalValue, type Predictor } from './server-state.ts';
import type { FunctionCatalog, SessionFunctions } from './functions.ts';
import { parseTextArray, quoteIdent } from './sql-text.ts';

const Q = 0x51, P = 0x50, B = 0x42, E = 0x45, D = 0x44, C = 0x43, S = 0x53, F = 0x46, X = 0x58;
const BACKLOG_LIMIT = 1 << 20;
/** message types a client may send once the session is up */
const FRONTEND_TYPES = new Set([Q, P, B, E, D, C, S, F, X, 0x48 /* H */, 0x64 /* d */, 0x63 /* c */, 0x66 /* f */]);

export interface RelayOptions {
  maxMessageBytes: number;
  limits: CaptureLimits;
  onClose: (reason: string) => void;
  /** table names for masking (null: masking off, or rules by column label only) */
  catalog?: TableCatalog | null;
  /** the target's functions: names fast-path calls; told of this session's function DDL */
  functions?: { catalog: FunctionCatalog; session: SessionFunctions } | null;
  /** rules read schemas: keep the session's search_path known, asking the target when it may have changed */
  trackSearchPath?: boolean;
  /** the client gave a search_path at startup: the session's path may differ from the target's default */
  startupSearchPath?: boolean;
  /** the target announced standard_conforming_strings off at startup */
  backslashQuotes?: boolean;
}

/** One frame of a batch and what the relay does with it. */
interface Item {
  /** offset of the frame in the batch's frame list (type, start, end triples) */
  at: number;
  type: number;
  /** the Sync window it belongs to (within the batch) */
  window: number;
  /** what the server-state model hears when it is forwarded */
  op?: Op;
  /** a Parse: checked before it is forwarded */
  check?: Command;
  checked?: Decision | null;
  /** an Execute, Query or FunctionCall: judged and recorded before it is forwarded */
  command?: Command;
  decision?: Decision;
  /** an Execute's portal, and whether Warden must describe it first (the client did not since its Bind) */
  portal?: string;
  describe?: boolean;
  /** a Bind's portal, or a Describe's (null: of a statement) */
  bound?: string;
  described?: string | null;
  /** a fast-path call: what the function OID names (filled before judging) */
  call?: { oid: number; params: (string | null)[]; resultFormat: number; fn?: CalledFunction };
  /** skipped by the server: an earlier Parse of its window was refused */
  skipped?: boolean;
  /** the client cancelled it before it was sent: answered with query_canceled, never run */
  cancelled?: boolean;
}

interface Plan {
  items: Item[];
  /** frame offset where the batch stops to wait for the server (null: it goes to its end) */
  stallAt: number | null;
}

export class PostgresRelay {
  private readonly fromClient: FrameSplitter;
  private readonly fromServer = new FrameSplitter(1 << 30);
  private readonly tracker: ResponseTracker;
  private readonly state: ServerState;
  /** per portal: was it described (by the client or Warden) since its last Bind, in forward order */
  private readonly described = new Map<string, boolean>();
  private readonly backlog: Buffer[] = [];
  private backlogBytes = 0;
  private busy = false;
  private closed = false;
  private blockedCount = 0;
  /** server bytes that arrived while a result waited for table names, in order */
  private serverWaiting: Buffer[] | null = null;
  /** the session's effective search path; null: not known now (asked again when the connection is idle) */
  private searchPath: string[] | null = null;
  private searchPathStale = true;
  /** the session's path may differ from the target's default (masking resolves names in the default one otherwise) */
  private searchPathChanged = false;
  /** the open transaction changed the search path: its end (commit or rollback) may change it again */
  private searchPathInTransaction = false;

  /** the batch being judged and recorded, not yet sent: aborted by a CancelRequest (cancelUnsent) */
  private unsent: AbortController | null = null;

  constructor(
    private readonly client: Duplex,
    private readonly server: Duplex,
    private readonly session: Session,
    private readonly opts: RelayOptions,
  ) {
    this.fromClient = new FrameSplitter(opts.maxMessageBytes);
    this.searchPathChanged = opts.startupSearchPath === true;
    this.state = new ServerState({
      effect: (e) => this.onEffect(e),
      ready: (status) => this.onReadyStatus(status),
    });
    this.tracker = new ResponseTracker(opts.limits, (id, summary) => session.result(id, summary), session.masker, opts.catalog ?? null, this.state, () =>
      this.searchPathStale || !this.searchPathChanged ? null : this.searchPath,
    );
    this.tracker.backslashQuotes = opts.backslashQuotes === true;
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

  /**
   * The client's CancelRequest. Postgres cancels what the server is running; a statement
   * still being judged or recorded (or waiting for an approval) has not reached it, and a
   * cancel sent on would find nothing to stop (and the statement would run after all), so it
   * is cancelled here: its wait ends and it is answered with query_canceled, never run.
   * True when that is so; false when the target must be asked.
   */
  cancelUnsent(): boolean {
    if (!this.unsent) return false;
    this.unsent.abort();
    return true;
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
    let runs = false;
    // The server reads nothing after a Terminate: what follows it in the same write never
    // runs, so it is neither judged nor recorded (nor forwarded).
    let terminatedAt = -1;
    const read = this.fromClient.push(chunk, (type, _buf, start, end) => {
      if (terminatedAt >= 0) return;
      if (!FRONTEND_TYPES.has(type)) throw new ProtocolError(`unexpected message type 0x${type.toString(16)} from the client`);
      frames.push(type, start, end);
      if (type === Q || type === E || type === F || type === P) runs = true;
      if (type === X) terminatedAt = end;
    });
    const data = terminatedAt >= 0 ? read.subarray(0, terminatedAt) : read;
    if (frames.length === 0) return;
    if (!runs) {
      // Nothing to judge (Bind, Describe, Sync, COPY data...): the plan is synchronous.
      const plan = this.plan(data, frames, 0);
      this.forward(data, frames, plan);
      return;
    }
    this.busy = true;
    void this.handleBatch(data, frames).then(
      () => {
        this.busy = false;
        this.drainBacklog();
      },
      (e) => this.protocolFailure(e),
    );
  }

  /** Judge and forward a batch; it may wait for the server's answers part-way (see Plan.stallAt). */
  private async handleBatch(data: Buffer, frames: number[]): Promise<void> {
    let from = 0;
    for (;;) {
      const plan = this.plan(data, frames, from);
      const unsent = (this.unsent = new AbortController());
      await this.prepare(plan);
      if (this.closed) return;
      await this.judge(plan, unsent.signal);
      this.unsent = null;
      if (this.closed) return;
      if (unsent.signal.aborted) this.cancelBeforeSent(plan);
      this.forward(data, frames, plan);
      if (plan.stallAt === null) return;
      await this.state.whenSettled();
      if (this.closed) return;
      from = plan.stallAt;
    }
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

  // ---- reading a batch ------------------------------------------------------------------

  /**
   * With standard_conforming_strings off (or a change of it not yet answered) the server
   * reads `\'` inside a string as a quote, Warden's parser as a backslash then the string's
   * end: a text with a backslash may not be the statement Warden would judge. Opaque.
   */
  private textRisk(text: string, changedInBatch = false): string | undefined {
    if (!text.includes('\\')) return undefined;
    if (this.tracker.backslashQuotes || changedInBatch || (this.textSettingsInFlight && !this.state.settled)) {
      return 'standard_conforming_strings is off: the server reads backslashes in strings otherwise than Warden does';
    }
    return undefined;
  }
  /** a statement that may change how text is read was sent and not answered yet */
  private textSettingsInFlight = false;

  /** Read the frames from `from` on: what each one is, and what each Execute runs. */
  private plan(data: Buffer, frames: number[], from: number): Plan {
    const items: Item[] = [];
    let predictor: Predictor | null = null;
    const batchOps: Op[] = [];
    const addOp = (op: Op) => {
      batchOps.push(op);
      predictor?.add(op);
    };
    // described-since-Bind as this batch leaves it
    const described = new Map<string, boolean>();
    const isDescribed = (portal: string) => described.get(portal) ?? this.described.get(portal) ?? false;
    let window = 0;
    // a statement earlier in this batch may change how the server reads text
    let textSettings = false;
    for (let at = from; at < frames.length; at += 3) {
      const type = frames[at]!, start = frames[at + 1]!, end = frames[at + 2]!;
      const item: Item = { at, type, window };
      switch (type) {
        case Q: {
          const text = cstringAt(data, start, end)[0];
          item.command = { text, via: 'simple', opaque: this.textRisk(text, textSettings) };
          item.op = { k: 'Q', effects: effectsOf(classifyPostgres(text)), done: 0 };
          if (item.op.effects.some((e) => e?.textSettings)) textSettings = true;
          break;
        }
        case P: {
          const m = decodeFrontend(type, data, start, end);
          if (m.type !== 'Parse') break;
          item.check = { text: m.text, via: 'parse', opaque: this.textRisk(m.text, textSettings) };
          item.op = { k: 'P', name: m.name, runs: { kind: 'text', text: m.text } };
          break;
        }
        case B: {
          const m = decodeFrontend(type, data, start, end);
          if (m.type !== 'Bind') break;
          item.op = { k: 'B', portal: m.portal, statement: m.statement, params: bindParams(m.params, m.paramFormats) };
          item.bound = m.portal;
          described.set(m.portal, false);
          break;
        }
        case C: {
          const m = decodeFrontend(type, data, start, end);
          if (m.type !== 'Close') break;
          item.op = { k: 'C', target: m.target, name: m.name };
          if (m.target === 'P') described.set(m.name, false);
          break;
        }
        case D: {
          const m = decodeFrontend(type, data, start, end);
          if (m.type !== 'Describe') break;
          item.described = m.target === 'P' ? m.name : null;
          if (m.target === 'P') described.set(m.name, true);
          break;
        }
        case E: {
          const portal = cstringAt(data, start, end)[0];
          const maxRows = data.readInt32BE(end - 4);
          predictor ??= this.predictorOver(batchOps);
          const r = predictor.resolve(portal);
          if (r.kind === 'wait') {
            if (items.length > 0 || !this.state.settled) return { items, stallAt: at };
            // settled, yet not exact: cannot happen (only answers-to-come make doubt); fail closed
            item.command = { text: '', via: 'extended', opaque: `what portal "${portal}" runs cannot be told` };
          } else if (r.kind === 'absent') {
            item.command = { text: '', via: 'extended', opaque: `Execute of portal "${portal}", which does not exist` };
          } else {
            item.command = executeCommand(r.value, portal, maxRows);
            item.command.opaque ??= this.textRisk(item.command.text, textSettings);
          }
          item.portal = portal;
          item.describe = !isDescribed(portal);
          described.set(portal, true);
          const seen = item.command.opaque === undefined && r.kind === 'portal' && r.value.runs.kind === 'text';
          item.op = { k: 'E', effect: seen ? mergedEffect(classifyPostgres((r.value.runs as { text: string }).text)) : undefined };
          // what it runs (or what its body changes) is not seen: it may change settings too
          if (!seen || item.op.effect?.textSettings) textSettings = true;
          break;
        }
        case F: {
          const m = decodeFrontend(type, data, start, end);
          if (m.type !== 'FunctionCall') break;
          item.call = { oid: m.oid, params: bindParams(m.args, m.argFormats), resultFormat: m.resultFormat };
          item.op = { k: 'F' };
          break;
        }
        case S:
          item.op = { k: 'S' };
          window++;
          break;
        default:
          break;
      }
      if (item.op) addOp(item.op);
      items.push(item);
    }
    return { items, stallAt: null };
  }

  private predictorOver(batchOps: Op[]): Predictor {
    const p = this.state.predictor();
    for (const op of batchOps) p.add(op);
    return p;
  }

  /** Before judging: the search path when rules or masking need it, and what fast-path calls name. */
  private async prepare(plan: Plan): Promise<void> {
    const judged = plan.items.some((i) => i.command || i.check || i.call);
    if (!judged) return;
    // Masking resolves the tables a result or a COPY names (their columns' rules) the way
    // the server does: in the session's path, once it may differ from the default one.
    const masking = this.opts.catalog != null && this.searchPathChanged;
    // (not while the target skips to a Sync: it would not answer Warden's query)
    if (this.searchPathStale && (this.opts.trackSearchPath || masking) && this.tracker.idle && !this.tracker.skippingToSync && this.state.settled && this.state.pendingOps().length === 0) {
      await this.refreshSearchPath();
    }
    if (this.opts.trackSearchPath) {
      const sp = this.searchPathStale ? null : this.searchPath;
      for (const i of plan.items) {
        if (i.command) i.command.searchPath = sp;
        if (i.check) i.check.searchPath = sp;
      }
    }
    for (const i of plan.items) {
      if (!i.call) continue;
      const info = this.opts.functions ? await this.opts.functions.catalog.function(i.call.oid) : null;
      if (!info) {
        i.command = { text: `-- fast-path call of function OID ${i.call.oid}`, params: i.call.params, via: 'function-call', opaque: `a fast-path call of function OID ${i.call.oid}, which the target does not name` };
      } else {
        const args = i.call.params.map((_, n) => `$${n + 1}`).join(', ');
        i.command = { text: `SELECT ${quoteIdent(info.schema)}.${quoteIdent(info.name)}(${args})`, params: i.call.params, via: 'function-call' };
        i.call.fn = { name: `${info.schema}.${info.name}`, returns: info.returns, format: i.call.resultFormat };
      }
      if (this.opts.trackSearchPath) i.command.searchPath = this.searchPathStale ? null : this.searchPath;
    }
  }

  /** Ask the target for the search path (`current_schemas(true)`), on the idle client connection. */
  private refreshSearchPath(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.tracker.expectInternal((value) => {
        const list = value === null ? null : parseTextArray(value);
        this.searchPath = list;
        this.searchPathStale = list === null;
        if (list !== null && this.state.status === 'I') this.searchPathInTransaction = false;
        resolve();
      });
      this.server.write(encodeFrontend({ type: 'Query', text: 'SELECT pg_catalog.current_schemas(true)' }));
    });
  }

  /** Parses first (a refused one stops its window), then every command, all recorded. */
  /** The batch's statements, cancelled by the client before they were sent (cancelUnsent), are answered as cancelled. */
  private cancelBeforeSent(plan: Plan): void {
    for (const i of plan.items) {
      if (!i.command || i.skipped || refusal(i)) continue;
      const d = i.decision;
      if (d?.action === 'allow') this.session.result(d.commandId, { rowCount: 0, durationMs: 0, error: { code: QUERY_CANCELED, message: `${CANCELED_MESSAGE} (before it reached the target)` } });
      i.cancelled = true;
    }
  }

  private async judge(plan: Plan, signal: AbortSignal): Promise<void> {
    const checks = plan.items.filter((i) => i.check);
    if (checks.length) {
      const decisions = await Promise.all(checks.map((i) => this.session.check(i.check!)));
      const refusedWindows = new Set<number>();
      checks.forEach((i, n) => {
        i.checked = decisions[n]!;
        if (i.checked) refusedWindows.add(i.window);
      });
      if (refusedWindows.size) {
        for (const i of plan.items) {
          if (!refusedWindows.has(i.window) || !i.command) continue;
          // only what follows the refused Parse in its window is skipped by the server
          const refusedBefore = checks.some((c) => c.checked && c.window === i.window && c.at < i.at);
          if (refusedBefore) i.skipped = true;
        }
      }
    }
    const commands = plan.items.filter((i) => i.command && !i.skipped);
    if (commands.length === 1) commands[0]!.decision = await this.session.command({ ...commands[0]!.command!, signal });
    else if (commands.length > 1) {
      const decisions = await Promise.all(commands.map((i) => this.session.command({ ...i.command!, signal })));
      commands.forEach((i, n) => (i.decision = decisions[n]));
    }
  }

  // ---- forwarding -------------------------------------------------------------------------

  /** Send the judged part of a batch upstream, replacing refused frames; note what the server will answer. */
  private forward(data: Buffer, frames: number[], plan: Plan): void {
    const items = plan.items;
    if (items.length === 0) return;
    const parts: Buffer[] = [];
    const first = items[0]!.at, last = items[items.length - 1]!.at;
    let copyFrom = frames[first + 1]! - 5; // start (incl. header) of bytes not yet copied into parts
    const stopAt = frames[last + 2]!;
    let changed = first !== 0 || stopAt !== data.length;
    const now = Date.now();
    const cut = (frameStart: number) => {
      if (frameStart > copyFrom) parts.push(data.subarray(copyFrom, frameStart));
      changed = true;
    };
    for (const item of items) {
      // the target skips this message (an error came and no Sync since): it describes nothing
      const skippedByTarget = this.tracker.skippingToSync;
      const frameStart = frames[item.at + 1]! - 5, end = frames[item.at + 2]!;
      const refused = refusal(item);
      if (refused) {
        cut(frameStart);
        copyFrom = end;
        if (item.type === P || item.type === E) {
          parts.push(raiseExtended(`warden_refused_${process.pid}_${++this.blockedCount}`, refused.message, refused.hint, refused.code));
          this.tracker.expect('P', true);
          this.tracker.expectBind(null);
          this.tracker.expectExecute(null, null);
        } else {
          // a Query or FunctionCall: a query that raises (the server answers it like the call)
          parts.push(raiseQuery(refused.message, refused.hint, refused.code));
          this.tracker.expectQuery(null);
          this.state.forwarded({ k: 'Q', effects: [], done: 0 });
        }
        continue;
      }
      const d = item.decision;
      const run: Running | null = d && d.action === 'allow' ? { commandId: d.commandId, startedAt: now, text: item.command!.text } : null;
      switch (item.type) {
        case Q:
          this.tracker.expectQuery(run);
          if (run) this.noteSent(item);
          break;
        case F:
          this.tracker.expectFunctionCall(run, item.call?.fn);
          break;
        case E:
          if (item.describe && !item.skipped) {
            // Warden must know how the rows look to mask them: describe the portal first.
            cut(frameStart);
            copyFrom = frameStart;
            parts.push(encodeFrontend({ type: 'Describe', target: 'P', name: item.portal! }));
            this.tracker.expectDescribe(item.portal!, true);
          }
          this.tracker.expectExecute(run, item.portal!);
          if (run) this.noteSent(item);
          break;
        case S:
          this.tracker.expectSync();
          break;
        case P:
          this.tracker.expect('P');
          break;
        case B:
          this.tracker.expectBind(item.bound!);
          break;
        case C:
          this.tracker.expect('C');
          break;
        case D:
          this.tracker.expectDescribe(item.described ?? null);
          break;
        default:
          break;
      }
      if (item.op) this.state.forwarded(item.op);
      if (!skippedByTarget) this.noteDescribed(item);
    }
    let out: Buffer;
    if (!changed) out = data;
    else {
      if (copyFrom < stopAt) parts.push(data.subarray(copyFrom, stopAt));
      out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }
    if (!this.server.write(out)) this.client.pause();
    if (items[items.length - 1]!.type === X) this.close('client terminated the session');
  }

  /** Keep "described since its Bind" per portal, in the order messages reach the server. */
  private noteDescribed(item: Item): void {
    if (this.described.size > 10_000) this.described.clear(); // only costs Describes Warden adds
    if (item.type === B) this.described.set(item.bound!, false);
    else if (item.type === C && item.op?.k === 'C' && item.op.target === 'P') this.described.delete(item.op.name);
    else if (item.type === D && item.described != null) this.described.set(item.described, true);
    else if (item.type === E && !item.skipped) this.described.set(item.portal!, true);
  }

  /** A command is on its way: what it changes in the session may change the search path. */
  private noteSent(item: Item): void {
    const effects = item.op?.k === 'Q' ? item.op.effects : item.op?.k === 'E' ? [item.op.effect] : [];
    for (const e of effects) {
      if (e?.textSettings) this.textSettingsInFlight = true;
      if (e?.searchPath) {
        this.searchPathStale = true;
        this.searchPathChanged = true;
        this.searchPathInTransaction = true;
      }
      if (e?.transactionEnd && this.searchPathInTransaction) this.searchPathStale = true;
    }
    // Executing a statement prepared in SQL, or anything opaque: its body may change it.
    if (item.op?.k === 'E' && item.op.effect === undefined && item.command?.text.startsWith('EXECUTE ')) this.searchPathStale = this.searchPathChanged = true;
  }

  /** A statement that changes functions completed: the catalog is read again. */
  private onEffect(e: SessionEffect): void {
    if (e.functions) this.opts.functions?.session.changed(e.definesFunction);
  }

  private onReadyStatus(status: string): void {
    // Every answer is in: a ParameterStatus for a changed setting came before its ReadyForQuery.
    if (this.state.settled) this.textSettingsInFlight = false;
    if (status !== 'I') return;
    this.opts.functions?.session.transactionEnded();
    // A transaction that changed the search path ended: committed or rolled back, ask again.
    if (this.searchPathInTransaction) this.searchPathStale = true;
  }

  // ---- the server's side ------------------------------------------------------------------

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
      const err = e as Error;
      this.serverGone(err instanceof ProtocolError ? `out of step with the target: ${err.message}` : `the target sent a malformed message: ${err.message}`);
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

  /**
   * The session was ended from outside (an admin): the client is told as Postgres tells a
   * backend ended by pg_terminate_backend (FATAL, admin_shutdown 57P01), then both legs
   * close. Server output is forwarded in whole messages, so this never splits one.
   */
  terminate(reason: string): void {
    if (this.closed) return;
    this.unsent?.abort(); // a statement waiting for an approval stops waiting
    if (this.client.writable) this.client.write(fatalResponse(ADMIN_SHUTDOWN, `warden: terminating connection: ${reason}`));
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

/** The client-facing error of a refused Parse, Execute, Query or FunctionCall (null: not refused). */
/** Postgres' own words and code for a cancelled statement, which clients (postgres.js, psql) recognise. */
const QUERY_CANCELED = '57014';
/** admin_shutdown: what a client of a backend ended by pg_terminate_backend is told */
const ADMIN_SHUTDOWN = '57P01';
const CANCELED_MESSAGE = 'canceling statement due to user request';

function refusal(item: Item): { message: string; hint?: string; code?: string } | null {
  if (item.cancelled) return { message: CANCELED_MESSAGE, code: QUERY_CANCELED };
  const d = item.checked ?? item.decision;
  if (!d || d.action === 'allow') return null;
  if (d.action === 'review') return { message: `warden: ${d.message}`, hint: `review ${d.reviewId}` };
  return { message: `warden: blocked: ${d.reason}` };
}

/** What an Execute runs, as a command to judge. */
function executeCommand(p: PortalValue, portal: string, maxRows: number): Command {
  switch (p.runs.kind) {
    case 'text':
      return { text: p.runs.text, params: p.params, via: 'extended' };
    case 'prepared':
      // a statement PREPAREd in SQL: judged as EXECUTE of it, whose body the guard knows
      return { text: `EXECUTE ${quoteIdent(p.runs.name)}`, params: p.params, via: 'extended' };
    case 'cursor':
      return { text: `FETCH FORWARD ${maxRows > 0 ? maxRows : 'ALL'} FROM ${quoteIdent(p.runs.name)}`, via: 'extended' };
    case 'unknown':
      return { text: '', params: p.params, via: 'extended', opaque: `Execute of portal "${portal}": ${p.runs.why}` };
  }
}

const effectsCache = new WeakMap<Classification, (SessionEffect | undefined)[]>();

/** One effect per top-level statement: its own and its nested statements', opaque ones counted as anything. */
function effectsOf(c: Classification): (SessionEffect | undefined)[] {
  let e = effectsCache.get(c);
  if (!e) {
    e = c.statements.map((s) => mergeOne(flattenStatements([s])));
    effectsCache.set(c, e);
  }
  return e;
}

function mergedEffect(c: Classification): SessionEffect | undefined {
  const all = effectsOf(c);
  if (all.length <= 1) return all[0];
  return all.reduce<SessionEffect | undefined>((a, b) => (b ? { ...a, ...b } : a), undefined);
}

function mergeOne(list: ReturnType<typeof flattenStatements>): SessionEffect | undefined {
  let out: SessionEffect | undefined;
  for (const s of list) {
    if (s.effect) out = { ...out, ...s.effect, searchPath: out?.searchPath || s.effect.searchPath, functions: out?.functions || s.effect.functions };
    // what cannot be seen through may change anything
    if (s.opaque) out = { ...out, searchPath: true, functions: true };
  }
  return out;
}
