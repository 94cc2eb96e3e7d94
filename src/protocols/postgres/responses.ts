// Follows the server's answers to what the relay forwarded, so that each result is
// tied to the command that caused it. One expectation per forwarded message that the
// server answers (Parse, Bind, Describe, Close, Execute, Sync, Query, FunctionCall).
import type { ResultSummary } from '../../session/types.ts';
import { RowCapture, type CaptureLimits } from '../../session/row-capture.ts';
import type { ColumnInfo, Masker, ResultMasker } from '../../masking/index.ts';
import { DataRowMasker } from './data-row.ts';
import { pgColumn, pgValueType } from './value-types.ts';
import { decodeBackend, encodeBackend, type FieldDescription } from './messages.ts';
import { cstringAt, dataRowValues } from './values.ts';
import { STALL, type FrameFate } from './frames.ts';
import { maskBinaryCopy, textFieldMasker, type FieldMasker } from './copy-binary.ts';
import { maskCopyRow, type CopyFieldMasker, type CopyRowFormat } from './copy-rows.ts';
import type { TableCatalog, TableName } from './catalog.ts';
import { classifyPostgres } from '../../sql/postgres.ts';
import { ProtocolError } from './buffers.ts';
import { withoutEchoedValues } from './echoed-values.ts';
import type { ServerState, TxStatus } from './server-state.ts';
import { attachSources, statementLineage, writesReturned } from './lineage.ts';

/** A command whose results are being collected. */
export interface Running {
  commandId: string;
  startedAt: number;
  /** the command's text (a COPY's table and columns are read from it) */
  text?: string;
}

/** The function a fast-path call runs, for masking and recording its one value. */
export interface CalledFunction {
  name: string;
  /** OID of the type it returns */
  returns: number;
  /** result format the call asked for (0 text, 1 binary) */
  format: number;
}

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

/**
 * RowDescriptions decoded by their bytes: a repeated query gets the same field list (and
 * the same column list for its record) without decoding it again. Bounded: emptied when full.
 */
interface Described {
  fields: FieldDescription[];
  columns: { name: string; type: number }[];
  /** some column is computed (table OID 0): what it carries depends on the statement */
  computed: boolean;
}
const described = new Map<string, Described>();
const DESCRIBED_MAX = 512;
const DESCRIBED_KEY_MAX = 2048;

function describe(buf: Buffer, start: number, end: number): Described | null {
  const key = end - start <= DESCRIBED_KEY_MAX ? buf.toString('latin1', start, end) : null;
  if (key !== null) {
    const hit = described.get(key);
    if (hit) return hit;
  }
  const m = decodeBackend(ROW_DESC, buf, start, end);
  if (m.type !== 'RowDescription') return null;
  const d: Described = { fields: m.fields, columns: m.fields.map((f) => ({ name: f.name, type: f.typeOid })), computed: m.fields.some((f) => f.tableOid === 0) };
  if (key !== null) {
    if (described.size >= DESCRIBED_MAX) described.clear();
    described.set(key, d);
  }
  return d;
}

const DDL_TAG = /^(CREATE|ALTER|DROP) /;

/** Lookups a RowDescription may wait for (views over views); then what is missing counts as unresolved. */
const MAX_LINEAGE_WAITS = 10;

export class ResponseTracker {
  private readonly queue: Expect[] = [];
  private head = 0;
  private columns: FieldDescription[] | null = null;
  /** the record's column list of `columns` (shared between results of the same shape: read-only) */
  private columnList: { name: string; type: number }[] | null = null;
  /** the last field list the masker had nothing to do for (lists are shared, see describe) */
  private unmasked: FieldDescription[] | null = null;
  private capture: RowCapture | null = null;
  /** masks the rows of the current result; null when masking is off or nothing to do */
  private rows: ResultMasker | null = null;
  /** the DataRow rebuild over `rows` */
  private dataRows: DataRowMasker | null = null;
  private readonly masked = new Set<string>();
  private readonly keepOriginals: boolean;
  /** the message of a FATAL error the target sent, if it sent one */
  fatal: string | null = null;
  /** after onFrame answered STALL: settles when the table names it waits for are in */
  lookup: Promise<void> | null = null;

  /** what each portal's rows look like: the answer to the last Describe of it since its Bind (null: no rows) */
  private readonly portalFields = new Map<string, Described | null>();
  /** the Execute whose rows are coming (its description is in `columns`) */
  private executing: Expect | null = null;

  constructor(
    private readonly limits: CaptureLimits,
    private readonly sink: ResultSink,
    private readonly masker: Masker | null,
    /** table names behind table OIDs, for masking rules by table and against aliases */
    private readonly catalog: TableCatalog | null = null,
    /** the session's named objects as the server holds them: told of every answer */
    private readonly state: ServerState | null = null,
    /** the session's search path when the relay knows it (table names in COPY resolve in it) */
    private readonly searchPath: () => readonly string[] | null = () => null,
  ) {
    this.keepOriginals = masker?.enabled === true && masker.config.keepOriginals;
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
    const c = this.capture;
    const summary: ResultSummary = { rowCount: c?.rowCount ?? 0, durationMs: Date.now() - run.startedAt };
    if (this.columns) summary.columns = this.columnList ?? this.columns.map((f) => ({ name: f.name, type: f.typeOid }));
    if (c && c.rows.length) summary.rows = c.rows;
    if (c?.originals) summary.originals = c.originals;
    if (c?.truncated) summary.truncated = true;
    if (tag !== undefined) summary.tag = tag;
    if (error) summary.error = error;
    if (this.rows) for (const c of this.rows.maskedColumns()) this.masked.add(c);
    if (this.copyColumns) for (const c of this.copyColumns.maskedColumns()) this.masked.add(c);
    if (this.masked.size) summary.maskedColumns = [...this.masked];
    this.masked.clear();
    this.sink(run.commandId, summary);
    this.capture = null;
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
      case DATA_ROW: {
        let frame: Buffer | undefined;
        if (this.rows) {
          // The row is read where it lies in the chunk: no view of it is made unless it changes.
          let out: Buffer;
          try {
            out = this.dataRows!.mask(buf, start - 5);
          } catch (e) {
            throw new ProtocolError(`malformed DataRow: ${(e as Error).message}`);
          }
          if (out !== buf) frame = out;
        }
        if (!this.running()) return frame;
        const cap = (this.capture ??= new RowCapture(this.limits));
        if (!cap.capturing) cap.skip();
        else if (frame) cap.add(dataRowValues(frame, 5, frame.length, this.columns), frame.length - 5, this.keepOriginals ? dataRowValues(buf, start, end, this.columns) : undefined);
        else cap.add(dataRowValues(buf, start, end, this.columns), end - start);
        return frame;
      }
      case COPY_OUT:
        return this.onCopyOut(buf, start, end);
      case COPY_DATA: {
        if (this.copyBinary) return this.onBinaryCopyData(buf, start, end);
        let frame: Buffer | undefined;
        let line = buf.toString('utf8', start, end);
        let original: string | undefined;
        if (this.copyHeaderRow) {
          this.copyHeaderRow = false; // a CSV header: column names, nothing to mask
        } else if (this.masker?.enabled) {
          // By column when the COPY's columns are known (rules apply), else the detectors over the row.
          const byColumn = this.copyRowFormat && this.copyField ? maskCopyRow(line, this.copyRowFormat, this.copyField) : null;
          const m = byColumn ?? this.masker.maskText(line);
          if (m !== line) {
            if (this.keepOriginals) original = line.replace(/\n$/, '');
            line = m;
            frame = encodeBackend({ type: 'CopyData', data: Buffer.from(m) });
            this.masked.add('(copy)');
          }
        }
        if (!this.running()) return frame;
        const cap = (this.capture ??= new RowCapture(this.limits));
        if (!cap.capturing) cap.skip();
        else cap.add([line.replace(/\n$/, '')], end - start, original === undefined ? undefined : [original]);
        return frame;
      }
      case ROW_DESC: {
        const d = describe(buf, start, end);
        const e = this.peek();
        const forPortal = e?.kind === 'D' ? e : null;
        if (d) {
          // A portal's rows come at its Execute: its description waits until then (see beginExecute).
          if (forPortal) {
            if (forPortal.portal !== null) this.portalFields.set(forPortal.portal, d);
          } else if (this.planResult(d) === STALL) return STALL;
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
        this.columns = null;
        this.rows = null;
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
        this.copyBinary = this.copyHeaderPending = false;
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
        // A suspended portal goes on with the same columns at its next Execute.
        if (type !== PORTAL_SUSPENDED) {
          this.columns = null;
          this.rows = null;
        }
        return undefined;
      }
      case ERROR:
      case NOTICE: {
        const m = decodeBackend(type, buf, start, end);
        const fields = m.type === 'ErrorResponse' || m.type === 'NoticeResponse' ? m.fields : {};
        const frame = this.maskNotice(m.type === 'ErrorResponse' ? 'ErrorResponse' : 'NoticeResponse', fields);
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

  /** The COPY under way sends binary tuples; its file header has not come yet. */
  private copyBinary = false;
  private copyHeaderPending = false;
  /** The COPY's columns when its statement names a table the target knows: rules apply by column. */
  private copyColumns: ResultMasker | null = null;
  private copyRowFormat: CopyRowFormat | null = null;
  /** how a field of this COPY is masked: text/CSV fields, binary fields (made once per COPY) */
  private copyField: CopyFieldMasker | null = null;
  private copyBinaryField: FieldMasker = () => undefined;
  /** the next CopyData is a CSV header row */
  private copyHeaderRow = false;
  /** The run whose statements are being answered, and how many of them completed (a simple query may hold several). */
  private statementsOf: Running | null = null;
  private statementsDone = 0;

  /**
   * CopyOutResponse: how the rows come (its first byte: 0 text, 1 binary) and, when the
   * COPY names a table, that table's columns, so column rules apply to `COPY people TO
   * STDOUT` as to `SELECT * FROM people`. The names are looked up as for a result's
   * columns (the COPY waits for them); COPY (query) has no table and keeps the detectors.
   */
  private onCopyOut(buf: Buffer, start: number, end: number): FrameFate {
    this.copyBinary = end > start && buf[start] === 1;
    this.copyHeaderPending = this.copyBinary;
    this.copyColumns = null;
    this.copyRowFormat = null;
    this.copyField = null;
    this.copyHeaderRow = false;
    const masker = this.masker?.enabled ? this.masker : null;
    // Until the COPY's columns are known (if ever): the detectors over every text field.
    this.copyBinaryField = masker ? textFieldMasker((text) => masker.maskText(text)) : () => undefined;
    const run = this.running();
    if (!masker || !run?.text) return undefined;
    const copy = classifyPostgres(run.text).statements[run === this.statementsOf ? this.statementsDone : 0]?.copy;
    if (!copy?.relation || copy.direction !== 'to') return undefined;
    const columns = this.copyColumnInfo(copy.relation, copy.columns, this.copyBinary ? 1 : 0);
    if (columns === STALL) return STALL;
    // The target says how many columns the COPY writes: a table found by another search
    // path (the session SET its own) may not match, and then only the detectors apply.
    if (!columns || end - start < 3 || columns.length !== buf.readInt16BE(start + 1)) return undefined;
    const rs = masker.forColumns(columns);
    if (!rs.active) return undefined;
    this.copyColumns = rs;
    const n = columns.length; // the server's count, checked above; a longer row is not read past it
    this.copyField = (i, v) => (v === null || i >= n ? undefined : rs.maskText(i, v));
    this.copyBinaryField = (i, b, s, e) => (i < n ? rs.maskBytes(i, b, s, e) : undefined);
    // CSV with an escape other than the quote is left to the detectors (read as a whole row).
    if (copy.format === 'text' || (copy.format === 'csv' && copy.escape === copy.quote)) this.copyRowFormat = { format: copy.format, delimiter: copy.delimiter, quote: copy.quote };
    this.copyHeaderRow = copy.format === 'csv' && copy.header;
    return undefined;
  }

  /** The columns a COPY writes, by the catalog; STALL while it is looked up, null when not known. */
  private copyColumnInfo(relation: TableName, listed: string[] | undefined, format: number): ColumnInfo[] | null | typeof STALL {
    // Binary COPY fields are in the send/recv form of DataRow values: read the same way.
    const unknown = () => listed?.map((name) => pgColumn({ name, column: name, tableUnknown: true, format })) ?? null;
    if (!this.catalog) return unknown();
    const now = Date.now();
    const path = relation.schema === undefined ? this.searchPath() : null;
    const oid = this.catalog.oidOf(relation, now, path);
    if (oid === undefined) {
      this.lookup = this.catalog.loadByName(relation, path);
      return STALL;
    }
    if (oid === null) return unknown();
    const t = this.catalog.get(oid, now);
    if (t === undefined) {
      this.lookup = this.catalog.load([oid]);
      return STALL;
    }
    if (t === null) return unknown();
    const attnumOf = new Map([...t.columns].map(([attnum, name]) => [name, attnum]));
    const attnums = listed ? listed.map((name) => attnumOf.get(name)) : [...t.columns.keys()].sort((a, b) => a - b);
    return attnums.map((attnum, i) => {
      const name = listed?.[i] ?? t.columns.get(attnum!)!;
      return pgColumn({ name, column: name, table: t.table, schema: t.schema, typeOid: attnum === undefined ? undefined : t.types.get(attnum), format, ...(attnum === undefined ? { tableUnknown: true } : {}) });
    });
  }

  /** A binary COPY message: text fields masked one by one, lengths kept right; tuples recorded. */
  private onBinaryCopyData(buf: Buffer, start: number, end: number): FrameFate {
    const running = this.running() !== null;
    const r = maskBinaryCopy(buf, start, end, this.copyHeaderPending, this.copyBinaryField, running && (this.capture?.capturing ?? true));
    if (r.header) this.copyHeaderPending = false;
    // Postgres sends whole tuples per message; a message that is not (another server's)
    // passes as it came: re-framing it as text would corrupt it for sure.
    const frame = r.payload ? encodeBackend({ type: 'CopyData', data: r.payload }) : undefined;
    if (frame) this.masked.add('(copy)');
    if (!running) return frame;
    const cap = (this.capture ??= new RowCapture(this.limits));
    for (let k = r.tuples.length; k < r.rows; k++) cap.skip(); // tuples not decoded once the record is full
    for (const tuple of r.tuples) {
      if (!cap.capturing) cap.skip();
      else cap.add(tuple.values, tuple.values.reduce((n, v) => n + (v?.length ?? 0), 0), this.keepOriginals && tuple.originals ? tuple.values.map((v, i) => tuple.originals![i] ?? v) : undefined);
    }
    return frame;
  }

  /** How many times the current RowDescription waited for the tables its lineage names. */
  private lineageWaits = 0;
  /** The session turned standard_conforming_strings off: no statement text is read as the server reads it. */
  backslashQuotes = false;

  /** The masking plan of a result, made on its RowDescription; STALL while names are looked up. */
  private planResult(d: Described): typeof STALL | undefined {
    const masker = this.masker?.enabled ? this.masker : null;
    // A statement that writes what it returns (INSERT ... RETURNING) decides even a plain column's plan.
    const run = masker !== null ? this.describedRun() : null;
    const writes = run !== null && !d.computed ? writesReturned(run.text, this.statementIndex(run), this.backslashQuotes) : null;
    if (!masker || (this.unmasked === d.fields && !writes)) {
      this.columns = d.fields;
      this.columnList = d.columns;
      this.rows = null;
      return undefined;
    }
    if (this.catalog) {
      // Names first, rows after: the result waits (this frame and what follows are held).
      const missing = this.catalog.missing(d.fields);
      if (missing.length) {
        this.lookup = this.catalog.load(missing);
        return STALL;
      }
    }
    const now = Date.now();
    const infos = d.fields.map((f) => this.columnInfo(f, now));
    const stmt = d.computed && run ? statementLineage(run.text, this.statementIndex(run), this.backslashQuotes) : writes;
    const considered = attachSources(infos, d.fields, stmt, this.catalog, now, this.lineageWaits >= MAX_LINEAGE_WAITS, this.searchPath());
    if (considered instanceof Promise) {
      this.lookup = considered;
      this.lineageWaits++;
      return STALL;
    }
    this.lineageWaits = 0;
    this.columns = d.fields;
    this.columnList = d.columns;
    // A ResultMasker keeps per-result state (what it masked): a new one per result.
    const rs = masker.forColumns(infos);
    this.rows = rs.active ? rs : null;
    this.dataRows = rs.active ? new DataRowMasker(rs) : null;
    // Only a plan that follows from the field list alone may be reused for the same list.
    this.unmasked = this.rows || considered ? null : d.fields;
    return undefined;
  }

  /** The command a result answers: the running query (a simple query's statements one after the other) or Execute. */
  private describedRun(): Running | null {
    return this.running();
  }

  /** The statement being answered: its text and its place in a simple query's. */
  private statementIndex(run: Running): number {
    return run === this.statementsOf ? this.statementsDone : 0;
  }

  /** What masking knows of a column: its label, and where the target says it comes from. */
  private columnInfo(f: FieldDescription, now: number): ColumnInfo {
    const info: ColumnInfo = { name: f.name, value: pgValueType(f.typeOid, f.format) };
    if (f.tableOid === 0) info.computed = true;
    if (f.tableOid === 0 || !this.catalog) return info;
    const t = this.catalog.get(f.tableOid, now);
    if (t === null || t === undefined) info.tableUnknown = true;
    else {
      info.schema = t.schema;
      info.table = t.table;
      info.column = t.columns.get(f.column);
    }
    return info;
  }

  /**
   * Servers echo values in messages (`Key (email)=(a@b.c) already exists`, `invalid input
   * syntax for type integer: "..."`): the echoed value of a data or integrity error is
   * replaced whole (echoed-values.ts), and what is left goes through the detectors.
   */
  private maskNotice(type: 'ErrorResponse' | 'NoticeResponse', fields: Record<string, string>): Buffer | undefined {
    if (!this.masker?.enabled) return undefined;
    const echoed = withoutEchoedValues(fields);
    let changed = echoed !== fields;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(echoed)) {
      const m = k === 'M' || k === 'D' || k === 'H' || k === 'W' ? this.masker.maskMessage(v) : v;
      if (m !== fields[k]) changed = true;
      out[k] = m;
    }
    if (changed) Object.assign(fields, out);
    return changed ? encodeBackend({ type, fields: out }) : undefined;
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
        if (this.planResult(d) === STALL) return STALL;
      } else {
        this.columns = null;
        this.rows = null;
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
    const len = end - start >= 4 ? buf.readInt32BE(start) : -1;
    const valueStart = start + 4, valueEnd = len < 0 ? valueStart : Math.min(valueStart + len, end);
    const format = fn?.format ?? 0;
    let replaced: Buffer | null | undefined;
    if (len >= 0 && this.masker?.enabled) {
      const rs = this.masker.forColumns([pgColumn({ name: fn?.name ?? 'function', typeOid: fn?.returns, format, computed: true })]);
      replaced = rs.active ? rs.maskBytes(0, buf, valueStart, valueEnd) : undefined;
    }
    const asText = (b: Buffer | null, s: number, t: number) => (b === null ? null : format === 1 ? '\\x' + b.toString('hex', s, t) : b.toString('utf8', s, t));
    let frame: Buffer | undefined;
    if (replaced !== undefined) {
      frame = encodeBackend({ type: 'FunctionCallResponse', value: replaced });
      this.masked.add(fn?.name ?? 'function');
    }
    if (run) {
      const cap = (this.capture ??= new RowCapture(this.limits));
      const shown = replaced !== undefined ? (replaced === null ? null : asText(replaced, 0, replaced.length)) : len < 0 ? null : asText(buf, valueStart, valueEnd);
      const original = replaced !== undefined && this.keepOriginals ? [len < 0 ? null : asText(buf, valueStart, valueEnd)] : undefined;
      cap.add([shown], valueEnd - valueStart, original);
      this.columnList = [{ name: fn?.name ?? 'function', type: fn?.returns ?? 0 }];
      this.columns = [];
      this.finish(run, undefined, 'FUNCTION CALL');
      this.columns = null;
      this.columnList = null;
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
    this.columns = null;
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
    this.columns = null;
    this.rows = null;
    this.capture = null;
  }
}
