// Follows the server's answers to what the relay forwarded, so that each result is
// tied to the command that caused it. One expectation per forwarded message that the
// server answers (Parse, Bind, Describe, Close, Execute, Sync, Query, FunctionCall).
import type { ResultSummary } from '../../session/types.ts';
import type { CaptureLimits } from '../../session/row-capture.ts';
import type { Masker } from '../../masking/index.ts';
import { decodeBackend } from './messages.ts';
import { cstringAt, dataRowValues } from './values.ts';
import { STALL, type FrameFate } from './frames.ts';
import type { TableCatalog } from './catalog.ts';
import { ProtocolError } from './buffers.ts';
import type { ServerState, TxStatus } from './server-state.ts';
import { describe, ResultObserver, type CalledFunction, type Described, type Running } from './result-observer.ts';

export type { CalledFunction, Running } from './result-observer.ts';

// One entry per forwarded message the server answers. `swallow`/`injected`: a message
// Warden added (a refusal, a Describe it needs): its answers never reach the client and
// the server-state model does not hear of it.
type Expect =
  | { kind: 'P' | 'B' | 'C'; swallow: boolean }
  /** Describe: of a portal (its name) or of a statement (null) */
  | { kind: 'D'; swallow: boolean; portal: string | null }
  | { kind: 'E'; run: Running | null; portal: string | null }
  | { kind: 'S' }
  | { kind: 'Q'; run: Running | null }
  | { kind: 'F'; run: Running | null; fn?: CalledFunction }
  /** a query of Warden's own on the client's connection (the search path): answers go to `done` */
  | { kind: 'I'; done: (value: string | null, error?: string) => void; value: string | null; error?: string };

export type ResultSink = (commandId: string, summary: ResultSummary) => void;


const T = (c: string) => c.charCodeAt(0);
const PARSE_COMPLETE = T('1'), BIND_COMPLETE = T('2'), CLOSE_COMPLETE = T('3'), NO_DATA = T('n'), ROW_DESC = T('T'),
  DATA_ROW = T('D'), COMMAND_COMPLETE = T('C'), EMPTY_QUERY = T('I'), PORTAL_SUSPENDED = T('s'), ERROR = T('E'),
  READY = T('Z'), COPY_DATA = T('d'), NOTICE = T('N'), COPY_OUT = T('H'), FUNCTION_RESULT = T('V'),
  PARAM_DESC = T('t'), PARAMETER_STATUS = T('S');

const DDL_TAG = /^(CREATE|ALTER|DROP) /;

export class ResponseTracker {
  private readonly queue: Expect[] = [];
  private head = 0;
  /** what the results carry: masking plans, masked rows and COPY data, the record */
  private readonly results: ResultObserver;
  /** the message of a FATAL error the target sent, if it sent one */
  fatal: string | null = null;

  /** what each portal's rows look like: the answer to the last Describe of it since its Bind (null: no rows) */
  private readonly portalFields = new Map<string, Described | null>();
  /** the Execute whose rows are coming (its description is in `columns`) */
  private executing: Expect | null = null;

  constructor(
    limits: CaptureLimits,
    private readonly sink: ResultSink,
    masker: Masker | null,
    /** table names behind table OIDs, for masking rules by table and against aliases */
    private readonly catalog: TableCatalog | null = null,
    /** the session's named objects as the server holds them: told of every answer */
    private readonly state: ServerState | null = null,
    /** the session's search path when the relay knows it (table names in COPY resolve in it) */
    searchPath: () => readonly string[] | null = () => null,
  ) {
    this.results = new ResultObserver(limits, masker, catalog, searchPath);
  }

  /** after onFrame answered STALL: settles when the table names it waits for are in */
  get lookup(): Promise<void> | null {
    return this.results.lookup;
  }

  /** The session turned standard_conforming_strings off: no statement text is read as the server reads it. */
  get backslashQuotes(): boolean {
    return this.results.backslashQuotes;
  }
  set backslashQuotes(on: boolean) {
    this.results.backslashQuotes = on;
  }

  /**
   * An extended-protocol error came when no Sync was on its way: the target skips every
   * message up to the next Sync the client sends, and answers none of them. Messages
   * forwarded meanwhile are expected to get no answer (their commands end as not executed).
   */
  skippingToSync = false;

  private push(e: Expect): void {
    if (!this.skippingToSync) {
      this.queue.push(e);
      return;
    }
    if ((e.kind === 'E' || e.kind === 'Q' || e.kind === 'F') && e.run) this.finish(e.run, { message: 'not executed: the target skips to Sync after an earlier error' });
    if (e.kind === 'I') e.done(null, 'skipped after an error');
  }

  expect(kind: 'P' | 'C', swallow = false): void {
    this.push({ kind, swallow });
  }
  /** A Bind of `portal` (null: one Warden injected, whose portal the client never sees). */
  expectBind(portal: string | null): void {
    if (portal !== null && !this.skippingToSync) this.boundNames.push(portal);
    this.push({ kind: 'B', swallow: portal === null });
  }
  /** Describe of a portal (`portal` its name) or of a statement (null); `swallow` when Warden added it. */
  expectDescribe(portal: string | null, swallow = false): void {
    this.push({ kind: 'D', swallow, portal });
  }
  /** Execute of `portal` (null: a refusal Warden injected). */
  expectExecute(run: Running | null, portal: string | null = null): void {
    this.push({ kind: 'E', run, portal });
  }
  expectSync(): void {
    this.skippingToSync = false;
    this.queue.push({ kind: 'S' });
  }
  expectQuery(run: Running | null): void {
    this.push({ kind: 'Q', run });
  }
  expectFunctionCall(run: Running | null, fn?: CalledFunction): void {
    this.push({ kind: 'F', run, fn });
  }
  /** A query of Warden's own, sent when the connection was idle; its answers never reach the client. */
  expectInternal(done: (value: string | null, error?: string) => void): void {
    this.push({ kind: 'I', done, value: null });
  }

  /** Nothing forwarded is waiting for an answer. */
  get idle(): boolean {
    return this.head >= this.queue.length;
  }

  /** Commands still waiting for their result (finished as errors when the target goes away). */
  abandon(reason: string): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if ((e.kind === 'E' || e.kind === 'Q' || e.kind === 'F') && e.run) this.finish(e.run, { message: reason, code: '08006' });
      if (e.kind === 'I') e.done(null, reason);
    }
    this.queue.length = 0;
    this.head = 0;
  }

  private peek(): Expect | undefined {
    return this.queue[this.head];
  }

  private pop(): void {
    this.head++;
    // Compact now and then instead of shifting on every message.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private running(): Running | null {
    const e = this.peek();
    return e && (e.kind === 'E' || e.kind === 'Q' || e.kind === 'F') ? e.run : null;
  }

  private finish(run: Running, error?: { code?: string; message: string }, tag?: string): void {
    this.sink(run.commandId, this.results.summary(run, error, tag));
  }

  /** See one server frame and decide its fate (masked, dropped when it answers a message Warden injected). */
  onFrame(type: number, buf: Buffer, start: number, end: number): FrameFate {
    const head = this.queue[this.head];
    if (head !== undefined) {
      if (head.kind === 'I') return this.onInternal(head, type, buf, start, end);
      if (head.kind === 'E' && this.executing !== head && this.beginExecute(head, type) === STALL) return STALL;
    }
    switch (type) {
      case FUNCTION_RESULT:
        return this.onFunctionResult(buf, start, end);
      case DATA_ROW:
        return this.results.dataRow(buf, start, end, this.running() !== null);
      case COPY_OUT: {
        const run = this.running();
        return this.results.copyOut(buf, start, end, run, run ? this.statementIndex(run) : 0);
      }
      case COPY_DATA:
        return this.results.copyData(buf, start, end, this.running() !== null);
      case ROW_DESC: {
        const d = describe(buf, start, end);
        const e = this.peek();
        const forPortal = e?.kind === 'D' ? e : null;
        if (d) {
          // A portal's rows come at its Execute: its description waits until then (see beginExecute).
          if (forPortal) {
            if (forPortal.portal !== null) this.portalFields.set(forPortal.portal, d);
          } else if (this.plan(d) === STALL) return STALL;
        }
        this.completeIf('D');
        return forPortal?.swallow ? null : undefined;
      }
      case NO_DATA: {
        const e = this.peek();
        if (e?.kind === 'D') {
          if (e.portal !== null) this.portalFields.set(e.portal, null);
          this.pop();
          return e.swallow ? null : undefined;
        }
        this.results.noRows();
        return undefined;
      }
      case PARAM_DESC:
        return undefined; // answers a Describe of a statement, before its RowDescription or NoData
      case PARSE_COMPLETE:
      case BIND_COMPLETE:
      case CLOSE_COMPLETE: {
        const e = this.peek();
        const kind = type === PARSE_COMPLETE ? 'P' : type === BIND_COMPLETE ? 'B' : 'C';
        if (e?.kind !== kind) throw new ProtocolError(`the target sent ${kind === 'P' ? 'ParseComplete' : kind === 'B' ? 'BindComplete' : 'CloseComplete'} out of turn`, '08P01');
        this.pop();
        if (e.swallow) return null;
        if (kind === 'P') this.state?.parseComplete();
        else if (kind === 'B') {
          this.state?.bindComplete();
          this.portalBound();
        } else this.state?.closeComplete();
        return undefined;
      }
      case COMMAND_COMPLETE:
      case EMPTY_QUERY:
      case PORTAL_SUSPENDED: {
        const run = this.running();
        if (run && type !== PORTAL_SUSPENDED) {
          if (run !== this.statementsOf) [this.statementsOf, this.statementsDone] = [run, 0];
          this.statementsDone++;
        }
        const tag = type === COMMAND_COMPLETE ? cstringAt(buf, start, end)[0] : type === EMPTY_QUERY ? '' : 'SUSPENDED';
        // A view replaced or a table renamed changes what a column carries: names are looked up anew.
        if (this.catalog && DDL_TAG.test(tag)) this.catalog.forget();
        if (run) this.finish(run, undefined, tag);
        const e = this.peek();
        if (e?.kind === 'E' || e?.kind === 'Q') {
          if (e.kind === 'Q' || e.portal !== null) {
            if (type === COMMAND_COMPLETE) this.state?.commandComplete();
            else if (type === EMPTY_QUERY) this.state?.emptyQuery();
            else this.state?.suspended();
          }
          if (e.kind === 'E') {
            this.pop();
            this.executing = null;
          }
        }
        this.results.resultEnded(type === PORTAL_SUSPENDED);
        return undefined;
      }
      case ERROR:
      case NOTICE: {
        const m = decodeBackend(type, buf, start, end);
        const fields = m.type === 'ErrorResponse' || m.type === 'NoticeResponse' ? m.fields : {};
        const frame = this.results.notice(m.type === 'ErrorResponse' ? 'ErrorResponse' : 'NoticeResponse', fields);
        if (type === ERROR) {
          // A FATAL error is the target ending the session; whichever side closes first,
          // this is why the session ended.
          if (fields.S === 'FATAL' || fields.S === 'PANIC') this.fatal = fields.M ?? fields.C ?? 'fatal error';
          this.onError({ code: fields.C, message: fields.M ?? 'error' });
        }
        return frame;
      }
      case READY:
        this.onReady(String.fromCharCode(buf[start] ?? 0x49) as TxStatus);
        return undefined;
      case PARAMETER_STATUS: {
        // With standard_conforming_strings off the server reads '\'' as a quote inside a
        // string, the parser (on) as its end: statements may not be what lineage sees.
        const [name, next] = cstringAt(buf, start, end);
        if (name === 'standard_conforming_strings') this.backslashQuotes = cstringAt(buf, next, end)[0] !== 'on';
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** The run whose statements are being answered, and how many of them completed (a simple query may hold several). */
  private statementsOf: Running | null = null;
  private statementsDone = 0;

  /** The masking plan of a result, made on its RowDescription for the command it answers; STALL while names are looked up. */
  private plan(d: Described): typeof STALL | undefined {
    const run = this.running();
    return this.results.plan(d, run, run ? this.statementIndex(run) : 0);
  }

  /** The statement being answered: its text and its place in a simple query's. */
  private statementIndex(run: Running): number {
    return run === this.statementsOf ? this.statementsDone : 0;
  }

  private completeIf(kind: 'D'): void {
    if (this.peek()?.kind === kind) this.pop();
  }

  /**
   * The first answer to an Execute: its rows look the way the last Describe of its portal
   * said, planned now that the statement is known (STALL while names are looked up).
   * Warden describes every portal it executes (the relay adds a Describe when the client
   * sent none), so rows with no description are a desync: fail loudly.
   */
  private beginExecute(e: Extract<Expect, { kind: 'E' }>, type: number): typeof STALL | undefined {
    if (e.portal !== null) {
      const d = this.portalFields.get(e.portal);
      if (d) {
        if (this.plan(d) === STALL) return STALL;
      } else {
        this.results.noRows();
        if (type === DATA_ROW) throw new ProtocolError(`the target sent rows for portal "${e.portal}" that was never described`, '08P01');
      }
    }
    this.executing = e;
    return undefined;
  }

  /** A Bind was acknowledged: the description of the portal it replaced no longer holds. */
  private portalBound(): void {
    const name = this.boundNames.shift();
    if (name !== undefined) this.portalFields.delete(name);
  }
  /** portal names of the Binds forwarded and not acknowledged yet, in order */
  readonly boundNames: string[] = [];

  /** The only value of Warden's own query (`SELECT current_schemas(true)`); nothing reaches the client. */
  private onInternal(e: Extract<Expect, { kind: 'I' }>, type: number, buf: Buffer, start: number, end: number): FrameFate {
    switch (type) {
      case DATA_ROW: {
        const v = dataRowValues(buf, start, end, null);
        e.value = v[0] ?? null;
        return null;
      }
      case ERROR: {
        const m = decodeBackend(type, buf, start, end);
        e.error = m.type === 'ErrorResponse' ? (m.fields.M ?? 'error') : 'error';
        if (m.type === 'ErrorResponse' && (m.fields.S === 'FATAL' || m.fields.S === 'PANIC')) this.fatal = m.fields.M ?? 'fatal error';
        return null;
      }
      case READY:
        this.pop();
        if (this.state) this.state.status = String.fromCharCode(buf[start] ?? 0x49) as TxStatus;
        e.done(e.error === undefined ? e.value : null, e.error);
        return null;
      case ROW_DESC:
      case COMMAND_COMPLETE:
      case NOTICE:
        return null;
      default:
        return undefined; // ParameterStatus, NotificationResponse: the client's
    }
  }

  /** A fast-path call's one value: masked as a column of the function's type, and recorded. */
  private onFunctionResult(buf: Buffer, start: number, end: number): FrameFate {
    const e = this.peek();
    const fn = e?.kind === 'F' ? e.fn : undefined;
    const run = e?.kind === 'F' ? e.run : null;
    const { frame, summary } = this.results.functionResult(buf, start, end, fn, run);
    if (run && summary) {
      this.sink(run.commandId, summary);
      if (e?.kind === 'F') e.run = null;
    }
    return frame;
  }

  private onError(error: { code?: string; message: string }): void {
    const e = this.peek();
    if (!e) return;
    if (e.kind === 'Q' || e.kind === 'F') {
      if (e.run) this.finish(e.run, error);
      if (e.kind === 'F') e.run = null;
      this.state?.error(e.kind);
      return;
    }
    // What failed, as the server-state model counts messages (a Describe, a message Warden
    // added or an error at Sync are not in it).
    const failed = e.kind === 'E' ? (e.portal === null ? 'other' : 'E') : (e.kind === 'P' || e.kind === 'B' || e.kind === 'C') && !e.swallow ? e.kind : 'other';
    this.state?.error(failed);
    // Extended protocol: the server skips everything up to the next Sync. The first
    // Execute in that stretch is the one that failed (or would have run next).
    let first = true;
    while (this.peek() && this.peek()!.kind !== 'S') {
      const x = this.peek()!;
      if ((x.kind === 'E' || x.kind === 'Q' || x.kind === 'F') && x.run) {
        this.finish(x.run, first ? error : { message: 'not executed: an earlier message of the same pipeline failed', code: error.code });
        first = false;
      }
      if (x.kind === 'B' && !x.swallow) this.boundNames.shift();
      if (x.kind === 'I') x.done(null, 'skipped after an error');
      this.pop();
    }
    // No Sync on its way: what the client sends until its next Sync is skipped too.
    if (!this.peek()) this.skippingToSync = true;
    this.executing = null;
    this.results.failed();
  }

  private onReady(status: TxStatus): void {
    // ReadyForQuery ends a Query, a FunctionCall or a Sync; anything before it was
    // skipped by the server.
    while (this.peek()) {
      const x = this.peek()!;
      this.pop();
      if ((x.kind === 'E' || x.kind === 'F') && x.run) this.finish(x.run, { message: 'not executed' });
      if (x.kind === 'S' || x.kind === 'Q' || x.kind === 'F') break;
    }
    this.state?.ready(status);
    // The end of a transaction drops its portals (their descriptions with them).
    if (status === 'I') this.portalFields.clear();
    this.executing = null;
    this.results.ready();
  }
}
