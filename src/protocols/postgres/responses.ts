// Follows the server's answers to what the relay forwarded, so that each result is
// tied to the command that caused it. One expectation per forwarded message that the
// server answers (Parse, Bind, Describe, Close, Execute, Sync, Query, FunctionCall).
import type { ResultSummary } from '../../session/types.ts';
import { RowCapture, type CaptureLimits } from '../../session/row-capture.ts';
import { decodeBackend, type FieldDescription } from './messages.ts';
import { cstringAt, dataRowValues } from './values.ts';

/** A command whose results are being collected. */
export interface Running {
  commandId: string;
  startedAt: number;
}

type Expect =
  | { kind: 'P' | 'B' | 'C' | 'D'; swallow: boolean }
  | { kind: 'E'; run: Running | null }
  | { kind: 'S' }
  | { kind: 'Q' | 'F'; run: Running | null };

export type ResultSink = (commandId: string, summary: ResultSummary) => void;

const T = (c: string) => c.charCodeAt(0);
const PARSE_COMPLETE = T('1'), BIND_COMPLETE = T('2'), CLOSE_COMPLETE = T('3'), NO_DATA = T('n'), ROW_DESC = T('T'),
  DATA_ROW = T('D'), COMMAND_COMPLETE = T('C'), EMPTY_QUERY = T('I'), PORTAL_SUSPENDED = T('s'), ERROR = T('E'),
  READY = T('Z'), COPY_DATA = T('d'), FUNCTION_RESULT = T('V');

export class ResponseTracker {
  private readonly queue: Expect[] = [];
  private head = 0;
  private columns: FieldDescription[] | null = null;
  private capture: RowCapture | null = null;

  constructor(
    private readonly limits: CaptureLimits,
    private readonly sink: ResultSink,
  ) {}

  expect(kind: 'P' | 'B' | 'C' | 'D', swallow = false): void {
    this.queue.push({ kind, swallow });
  }
  expectExecute(run: Running | null): void {
    this.queue.push({ kind: 'E', run });
  }
  expectSync(): void {
    this.queue.push({ kind: 'S' });
  }
  expectQuery(run: Running | null, kind: 'Q' | 'F' = 'Q'): void {
    this.queue.push({ kind, run });
  }

  /** Commands still waiting for their result (finished as errors when the target goes away). */
  abandon(reason: string): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if ((e.kind === 'E' || e.kind === 'Q' || e.kind === 'F') && e.run) this.finish(e.run, { message: reason, code: '08006' });
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
    const c = this.capture;
    const summary: ResultSummary = { rowCount: c?.rowCount ?? 0, durationMs: Date.now() - run.startedAt };
    if (this.columns) summary.columns = this.columns.map((f) => ({ name: f.name, type: f.typeOid }));
    if (c && c.rows.length) summary.rows = c.rows;
    if (c?.truncated) summary.truncated = true;
    if (tag !== undefined) summary.tag = tag;
    if (error) summary.error = error;
    this.sink(run.commandId, summary);
    this.capture = null;
  }

  /** See one server frame; returns false when the frame answers a message Warden injected. */
  onFrame(type: number, buf: Buffer, start: number, end: number): boolean {
    switch (type) {
      case DATA_ROW:
      case COPY_DATA: {
        if (!this.running()) return true;
        const cap = (this.capture ??= new RowCapture(this.limits));
        if (!cap.capturing) cap.skip();
        else if (type === DATA_ROW) cap.add(dataRowValues(buf, start, end, this.columns), end - start);
        else cap.add([buf.toString('utf8', start, end).replace(/\n$/, '')], end - start);
        return true;
      }
      case ROW_DESC: {
        const m = decodeBackend(type, buf, start, end);
        if (m.type === 'RowDescription') this.columns = m.fields;
        this.completeIf('D');
        return true;
      }
      case NO_DATA:
        this.columns = null;
        this.completeIf('D');
        return true;
      case PARSE_COMPLETE:
      case BIND_COMPLETE:
      case CLOSE_COMPLETE: {
        const e = this.peek();
        const kind = type === PARSE_COMPLETE ? 'P' : type === BIND_COMPLETE ? 'B' : 'C';
        if (e?.kind === kind) {
          this.pop();
          return !e.swallow;
        }
        return true;
      }
      case COMMAND_COMPLETE:
      case EMPTY_QUERY:
      case PORTAL_SUSPENDED: {
        const run = this.running();
        const tag = type === COMMAND_COMPLETE ? cstringAt(buf, start, end)[0] : type === EMPTY_QUERY ? '' : 'SUSPENDED';
        if (run) this.finish(run, undefined, tag);
        if (this.peek()?.kind === 'E') this.pop();
        this.columns = null;
        return true;
      }
      case FUNCTION_RESULT:
        return true;
      case ERROR:
        this.onError(buf, start, end);
        return true;
      case READY:
        this.onReady();
        return true;
      default:
        return true;
    }
  }

  private completeIf(kind: 'D'): void {
    if (this.peek()?.kind === kind) this.pop();
  }

  private onError(buf: Buffer, start: number, end: number): void {
    const m = decodeBackend(ERROR, buf, start, end);
    const error = m.type === 'ErrorResponse' ? { code: m.fields.C, message: m.fields.M ?? 'error' } : { message: 'error' };
    const e = this.peek();
    if (!e) return;
    if (e.kind === 'Q' || e.kind === 'F') {
      if (e.run) this.finish(e.run, error);
      return;
    }
    // Extended protocol: the server skips everything up to the next Sync. The first
    // Execute in that stretch is the one that failed (or would have run next).
    let first = true;
    while (this.peek() && this.peek()!.kind !== 'S') {
      const x = this.peek()!;
      if (x.kind === 'E' && x.run) {
        this.finish(x.run, first ? error : { message: 'not executed: an earlier message of the same pipeline failed', code: error.code });
        first = false;
      }
      this.pop();
    }
    this.columns = null;
  }

  private onReady(): void {
    // ReadyForQuery ends a Query, a FunctionCall or a Sync; anything before it was
    // skipped by the server.
    while (this.peek()) {
      const x = this.peek()!;
      this.pop();
      if (x.kind === 'E' && x.run) this.finish(x.run, { message: 'not executed' });
      if (x.kind === 'S' || x.kind === 'Q' || x.kind === 'F') break;
    }
    this.columns = null;
    this.capture = null;
  }
}
