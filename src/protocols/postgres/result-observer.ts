// What the results of a Postgres session carry, apart from the protocol's turn-taking (the
// ResponseTracker's state machine, responses.ts): the masking plan of each result, made on
// its RowDescription (table names and lineage looked up first), rows and COPY data masked
// as they pass, notices and errors with echoed values withheld, and the record of what came
// back (rows captured within the caps, the masked columns) for session.result().
import type { ResultSummary } from '../../session/types.ts';
import { RowCapture, type CaptureLimits } from '../../session/row-capture.ts';
import type { ColumnInfo, Masker, ResultMasker } from '../../masking/index.ts';
import { DataRowMasker } from './data-row.ts';
import { pgColumn, pgValueType } from './value-types.ts';
import { decodeBackend, encodeBackend, type FieldDescription } from './messages.ts';
import { dataRowValues } from './values.ts';
import { STALL, type FrameFate } from './frames.ts';
import { maskBinaryCopy, textFieldMasker, type FieldMasker } from './copy-binary.ts';
import { maskCopyRow, type CopyFieldMasker, type CopyRowFormat } from './copy-rows.ts';
import type { TableCatalog, TableName } from './catalog.ts';
import { classifyPostgres } from '../../sql/postgres.ts';
import { ProtocolError } from './buffers.ts';
import { withoutEchoedValues } from './echoed-values.ts';
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

/**
 * RowDescriptions decoded by their bytes: a repeated query gets the same field list (and
 * the same column list for its record) without decoding it again. Bounded: emptied when full.
 */
export interface Described {
  fields: FieldDescription[];
  columns: { name: string; type: number }[];
  /** some column is computed (table OID 0): what it carries depends on the statement */
  computed: boolean;
}
const described = new Map<string, Described>();
const DESCRIBED_MAX = 512;
const DESCRIBED_KEY_MAX = 2048;
const ROW_DESC = 0x54;

export function describe(buf: Buffer, start: number, end: number): Described | null {
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

/** Lookups a RowDescription may wait for (views over views); then what is missing counts as unresolved. */
const MAX_LINEAGE_WAITS = 10;

export class ResultObserver {
  /** the fields of the result whose rows are coming */
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
  /** after a plan answered STALL: settles when the table names it waits for are in */
  lookup: Promise<void> | null = null;
  /** How many times the current RowDescription waited for the tables its lineage names. */
  private lineageWaits = 0;
  /** The session turned standard_conforming_strings off: no statement text is read as the server reads it. */
  backslashQuotes = false;

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

  constructor(
    private readonly limits: CaptureLimits,
    private readonly masker: Masker | null,
    /** table names behind table OIDs, for masking rules by table and against aliases */
    private readonly catalog: TableCatalog | null,
    /** the session's search path when the relay knows it (table names in COPY resolve in it) */
    private readonly searchPath: () => readonly string[] | null,
  ) {
    this.keepOriginals = masker?.enabled === true && masker.config.keepOriginals;
  }

  /** What came back for `run`, for the record; the capture starts afresh. */
  summary(run: Running, error?: { code?: string; message: string }, tag?: string): ResultSummary {
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
    this.capture = null;
    return summary;
  }

  /** No rows follow (NoData, the end of a result, an error). */
  noRows(): void {
    this.columns = null;
    this.rows = null;
  }

  /** An error ended the result: its fields no longer describe what comes (the plan stays until ReadyForQuery). */
  failed(): void {
    this.columns = null;
  }

  /** The session is ready for a new command: nothing of the last one is kept. */
  ready(): void {
    this.noRows();
    this.capture = null;
  }

  /** A result's rows ended (CommandComplete, EmptyQuery, PortalSuspended): a COPY ends too. */
  resultEnded(suspended: boolean): void {
    this.copyBinary = this.copyHeaderPending = false;
    // A suspended portal goes on with the same columns at its next Execute.
    if (!suspended) this.noRows();
  }

  /** A DataRow: masked as planned; recorded when it answers a command (`recording`). */
  dataRow(buf: Buffer, start: number, end: number, recording: boolean): FrameFate {
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
    if (!recording) return frame;
    const cap = (this.capture ??= new RowCapture(this.limits));
    if (!cap.capturing) cap.skip();
    else if (frame) cap.add(dataRowValues(frame, 5, frame.length, this.columns), frame.length - 5, this.keepOriginals ? dataRowValues(buf, start, end, this.columns) : undefined);
    else cap.add(dataRowValues(buf, start, end, this.columns), end - start);
    return frame;
  }

  /** A CopyData of a COPY TO: masked by column when the COPY's columns are known, else by the detectors. */
  copyData(buf: Buffer, start: number, end: number, recording: boolean): FrameFate {
    if (this.copyBinary) return this.binaryCopyData(buf, start, end, recording);
    let frame: Buffer | undefined;
    let line = buf.toString('utf8', start, end);
    let original: string | undefined;
    if (this.copyHeaderRow) {
      this.copyHeaderRow = false; // a CSV header: column names, nothing to mask
    } else if (this.masker?.enabled) {
      const byColumn = this.copyRowFormat && this.copyField ? maskCopyRow(line, this.copyRowFormat, this.copyField) : null;
      const m = byColumn ?? this.masker.maskText(line);
      if (m !== line) {
        if (this.keepOriginals) original = line.replace(/\n$/, '');
        line = m;
        frame = encodeBackend({ type: 'CopyData', data: Buffer.from(m) });
        this.masked.add('(copy)');
      }
    }
    if (!recording) return frame;
    const cap = (this.capture ??= new RowCapture(this.limits));
    if (!cap.capturing) cap.skip();
    else cap.add([line.replace(/\n$/, '')], end - start, original === undefined ? undefined : [original]);
    return frame;
  }

  /**
   * CopyOutResponse: how the rows come (its first byte: 0 text, 1 binary) and, when the
   * COPY names a table, that table's columns, so column rules apply to `COPY people TO
   * STDOUT` as to `SELECT * FROM people`. The names are looked up as for a result's
   * columns (the COPY waits for them); COPY (query) has no table and keeps the detectors.
   */
  copyOut(buf: Buffer, start: number, end: number, run: Running | null, index: number): FrameFate {
    this.copyBinary = end > start && buf[start] === 1;
    this.copyHeaderPending = this.copyBinary;
    this.copyColumns = null;
    this.copyRowFormat = null;
    this.copyField = null;
    this.copyHeaderRow = false;
    const masker = this.masker?.enabled ? this.masker : null;
    // Until the COPY's columns are known (if ever): the detectors over every text field.
    this.copyBinaryField = masker ? textFieldMasker((text) => masker.maskText(text)) : () => undefined;
    if (!masker || !run?.text) return undefined;
    const copy = classifyPostgres(run.text).statements[index]?.copy;
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
  private binaryCopyData(buf: Buffer, start: number, end: number, running: boolean): FrameFate {
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

  /** The masking plan of a result, made on its RowDescription; STALL while names are looked up. */
  plan(d: Described, run: Running | null, index: number): typeof STALL | undefined {
    const masker = this.masker?.enabled ? this.masker : null;
    // A statement that writes what it returns (INSERT ... RETURNING) decides even a plain column's plan.
    const writes = masker !== null && run !== null && !d.computed ? writesReturned(run.text, index, this.backslashQuotes) : null;
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
    const stmt = d.computed && run ? statementLineage(run.text, index, this.backslashQuotes) : writes;
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
  notice(type: 'ErrorResponse' | 'NoticeResponse', fields: Record<string, string>): Buffer | undefined {
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

  /** A fast-path call's one value: masked as a column of the function's type; what to record of it when it answers `run`. */
  functionResult(buf: Buffer, start: number, end: number, fn: CalledFunction | undefined, run: Running | null): { frame: Buffer | undefined; summary: ResultSummary | null } {
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
    if (!run) return { frame, summary: null };
    const cap = (this.capture ??= new RowCapture(this.limits));
    const shown = replaced !== undefined ? (replaced === null ? null : asText(replaced, 0, replaced.length)) : len < 0 ? null : asText(buf, valueStart, valueEnd);
    const original = replaced !== undefined && this.keepOriginals ? [len < 0 ? null : asText(buf, valueStart, valueEnd)] : undefined;
    cap.add([shown], valueEnd - valueStart, original);
    this.columnList = [{ name: fn?.name ?? 'function', type: fn?.returns ?? 0 }];
    this.columns = [];
    const summary = this.summary(run, undefined, 'FUNCTION CALL');
    this.columns = null;
    this.columnList = null;
    return { frame, summary };
  }
}
