// Follows the server's answer to the one command in flight, packet by packet, so each
// result is tied to the command that caused it, its rows masked and recorded, and the
// relay told what the server acknowledged (a statement id, a file request, the end).
//
//   COM_QUERY / COM_STMT_EXECUTE: OK | ERR | 0xFB (LOCAL INFILE, COM_QUERY only) |
//       column count, column definitions, [EOF], rows, EOF-or-OK; again while the status
//       says SERVER_MORE_RESULTS_EXISTS
//   COM_STMT_FETCH: rows, EOF-or-OK
//   COM_STMT_PREPARE: ERR | OK(id, columns, params), param definitions [EOF], column definitions [EOF]
//   COM_FIELD_LIST: column definitions until EOF-or-OK | ERR
//   everything else the engine forwards: one packet
import type { Masker, ResultMasker } from '../../masking/index.ts';
import type { ResultColumn, ResultSummary } from '../../session/types.ts';
import { RowCapture, type CaptureLimits } from '../../session/row-capture.ts';
import { STATUS } from './constants.ts';
import { columnInfo } from './column-types.ts';
import { withoutEchoedValue } from './echoed-values.ts';
import { decodeColumnDef, decodeErr, decodePrepareOk, encodeErr, eofStatus, isEof, okStatus, type ColumnDef, type PrepareOk } from './messages.ts';
import { framePacket, packetCount, ProtocolError, Reader, type Packet, type PacketFate } from './packets.ts';
import { binaryNullRow, binaryRowValues, maskBinaryRow, maskTextRow, nullRow, textRowValues } from './rows.ts';

export interface Running {
  commandId: string;
  startedAt: number;
}

export type ExpectKind = 'query' | 'execute' | 'fetch' | 'prepare' | 'single' | 'fieldlist' | 'internal';

export interface Expectation {
  kind: ExpectKind;
  /** the allowed command whose results are recorded (null: not recorded) */
  run: Running | null;
  /** fetch: the columns of the cursor's result */
  columns?: ColumnDef[];
  /** execute: the result's columns once described (a cursor's rows come by COM_STMT_FETCH) */
  onColumns?: (defs: ColumnDef[]) => void;
  /** prepare: the server's answer */
  onPrepared?: (ok: PrepareOk | null) => void;
  /** single: what the one packet was */
  onSingle?: (ok: boolean) => void;
  /** query: the server asks for a local file (0xFB); the relay says whether it goes to the client */
  onLocalInfile?: (fileName: string, seq: number) => 'forward' | 'refuse';
  /** internal: the text values of the first row, or the error */
  onInternal?: (row: (string | null)[] | null, error?: string) => void;
}

/** A result's columns as read once and shared by results of the same shape. */
interface Described {
  defs: ColumnDef[];
  columns: ResultColumn[];
  /** the masker has nothing to do for these columns */
  unmasked: boolean;
}
const describedCache = new Map<string, Described>();
const DESCRIBED_MAX = 512;

type Phase = 'first' | 'columns' | 'columnsEof' | 'rows' | 'pparams' | 'pparamsEof' | 'pcols' | 'pcolsEof';

export class ResponseTracker {
  private current: Expectation | null = null;
  private phase: Phase = 'first';
  private waiting: (() => void)[] = [];
  // the result being read
  private count = 0;
  /** the column definition packets of the result being read (views: chunks are never reused) */
  private defParts: Buffer[] = [];
  private defsKey = '';
  private described: Described | null = null;
  private rs: ResultMasker | null = null;
  private capture: RowCapture | null = null;
  private internalRow: (string | null)[] | null = null;
  private prepare: PrepareOk | null = null;
  /** after a refused file request: the rest of this answer is the gateway's to drop */
  private swallow = false;
  private readonly keepOriginals: boolean;

  constructor(
    private readonly limits: CaptureLimits,
    private readonly sink: (commandId: string, summary: ResultSummary) => void,
    private readonly masker: Masker | null,
    /** CLIENT_DEPRECATE_EOF on both legs: results end with an OK (0xFE), no EOF after the columns */
    private readonly deprecateEof: boolean,
  ) {
    this.keepOriginals = masker?.enabled === true && masker.config.keepOriginals;
  }

  /** Nothing is in flight. */
  get idle(): boolean {
    return this.current === null;
  }

  /** Resolves once the command in flight is answered in full. */
  whenIdle(): Promise<void> {
    if (!this.current) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  expect(e: Expectation): void {
    if (this.current) throw new ProtocolError('a command was forwarded while another one was in flight');
    this.current = e;
    this.swallow = false;
    this.resetResult();
    this.phase = e.kind === 'fetch' ? 'rows' : 'first';
    if (e.kind === 'fetch') this.useColumns(e.columns ?? [], '');
  }

  /** The connection went away: the command in flight ends as an error. */
  abandon(reason: string): void {
    const e = this.current;
    if (!e) return;
    if (e.run) this.finish(e.run, { error: { code: '2013', message: reason } });
    this.internalDone(e, null, reason);
    e.onPrepared?.(null);
    this.complete();
  }

  /** See one server packet; returns its fate (undefined: forward it as it came). */
  onPacket(p: Packet): PacketFate {
    const e = this.current;
    if (!e) {
      // unsolicited: the server's last words before closing (a kill, a timeout)
      return this.maskErr(p);
    }
    const swallowing = this.swallow;
    const fate = this.step(e, p);
    return swallowing || e.kind === 'internal' ? null : fate;
  }

  private step(e: Expectation, p: Packet): PacketFate {
    const { buf, start, end } = p;
    const head = buf[start];
    switch (e.kind) {
      case 'single':
        e.onSingle?.(head === 0x00 || head === 0xfe);
        return this.endWith(p, head === 0xff);
      case 'prepare':
        return this.stepPrepare(e, p);
      case 'fieldlist':
        if (head === 0xff) return this.endWith(p, true);
        if (this.isTerminator(p)) return this.endWith(p, false);
        return undefined;
      default:
        break;
    }
    switch (this.phase) {
      case 'first': {
        if (head === 0x00) {
          const ok = okStatus(buf, start, end);
          if (e.run) this.finish(e.run, { rowCount: ok.affectedRows, tag: `OK ${ok.affectedRows}${ok.info ? ` (${ok.info})` : ''}` });
          this.nextResult(ok.status);
          return undefined;
        }
        if (head === 0xff) return this.endWith(p, true);
        if (head === 0xfb && e.kind === 'query') {
          const fileName = buf.toString('utf8', start + 1, end);
          if ((e.onLocalInfile?.(fileName, p.seq) ?? 'refuse') === 'forward') return undefined;
          this.swallow = true;
          if (e.run) this.finish(e.run, { error: { code: '1148', message: `warden: the target asked for the client's file ${fileName}; refused` } });
          // the client gets the refusal in place of the request; the server's answer to the empty file is dropped
          return framePacket(encodeErr(1148, '42000', `warden: the target asked for the client's file "${fileName}", which this command may not send; refused`), p.seq);
        }
        const r = new Reader(buf, start, end);
        this.count = r.lenenc() ?? 0;
        this.defParts = [];
        this.defsKey = '';
        this.phase = this.count > 0 ? 'columns' : 'rows';
        return undefined;
      }
      case 'columns': {
        // decoded once the whole list is known, unless a result of the same shape was seen
        this.defsKey += `${end - start}:${buf.toString('latin1', start, end)}`;
        this.defParts.push(buf.subarray(start, end));
        if (this.defParts.length < this.count) return undefined;
        this.useColumns(this.decodeDefs(), this.defsKey);
        if (this.deprecateEof) {
          this.phase = 'rows';
          e.onColumns?.(this.described!.defs);
        } else this.phase = 'columnsEof';
        return undefined;
      }
      case 'columnsEof': {
        if (!isEof(buf, start, end)) throw new ProtocolError('the target sent no EOF after the column definitions');
        e.onColumns?.(this.described!.defs);
        const status = eofStatus(buf, start, end);
        if (status & STATUS.CURSOR_EXISTS) {
          // a cursor: the rows come by COM_STMT_FETCH
          if (e.run) this.finish(e.run, { rowCount: 0, tag: 'CURSOR' });
          this.nextResult(status);
          return undefined;
        }
        this.phase = 'rows';
        return undefined;
      }
      case 'rows': {
        if (head === 0xff) return this.endWith(p, true);
        if (this.isTerminator(p)) {
          const status = this.deprecateEof ? okStatus(buf, start, end).status : eofStatus(buf, start, end);
          if (e.run) this.finish(e.run, { rowCount: this.capture?.rowCount ?? 0, tag: `SELECT ${this.capture?.rowCount ?? 0}` });
          this.nextResult(e.kind === 'fetch' ? 0 : status);
          return undefined;
        }
        return this.row(e, p);
      }
      default:
        throw new ProtocolError(`unexpected state ${this.phase}`);
    }
  }

  private stepPrepare(e: Expectation, p: Packet): PacketFate {
    const { buf, start, end } = p;
    switch (this.phase) {
      case 'first': {
        if (buf[start] === 0xff) {
          e.onPrepared?.(null);
          return this.endWith(p, true);
        }
        if (buf[start] !== 0x00) throw new ProtocolError('the target answered COM_STMT_PREPARE with something else than OK or ERR');
        this.prepare = decodePrepareOk(buf, start, end);
        e.onPrepared?.(this.prepare);
        this.count = this.prepare.params;
        return this.afterPrepareList('pparams');
      }
      case 'pparams':
      case 'pcols':
        if (--this.count > 0) return undefined;
        if (!this.deprecateEof) {
          this.phase = this.phase === 'pparams' ? 'pparamsEof' : 'pcolsEof';
          return undefined;
        }
        return this.afterPrepareList(this.phase === 'pparams' ? 'pcols' : 'done');
      case 'pparamsEof':
        return this.afterPrepareList('pcols');
      case 'pcolsEof':
        this.complete();
        return undefined;
      default:
        throw new ProtocolError(`unexpected state ${this.phase}`);
    }
  }

  /** After a list of definitions in a prepare's answer: the next list, or the end. */
  private afterPrepareList(next: 'pparams' | 'pcols' | 'done'): PacketFate {
    if (next === 'pparams') {
      if (this.count > 0) {
        this.phase = 'pparams';
        return undefined;
      }
      next = 'pcols';
    }
    if (next === 'pcols' && this.prepare!.columns > 0) {
      this.count = this.prepare!.columns;
      this.phase = 'pcols';
      return undefined;
    }
    this.complete();
    return undefined;
  }

  /** An ERR or a single packet ends the command; an ERR's message is masked and recorded. */
  private endWith(p: Packet, error: boolean): PacketFate {
    const e = this.current!;
    let fate: PacketFate;
    if (error) {
      const err = decodeErr(p.buf, p.start, p.end);
      const masked = this.masker?.enabled ? this.masker.maskMessage(withoutEchoedValue(err.code, err.message)) : err.message;
      if (masked !== err.message) fate = framePacket(encodeErr(err.code, err.sqlState, masked), p.seq);
      if (e.run) this.finish(e.run, { error: { code: `${err.code}/${err.sqlState}`, message: masked } });
      this.internalDone(e, null, masked);
    } else if (e.kind === 'single' && e.run) this.finish(e.run, { rowCount: 0, tag: 'OK' });
    this.complete();
    return fate;
  }

  private maskErr(p: Packet): PacketFate {
    if (p.buf[p.start] !== 0xff || !this.masker?.enabled) return undefined;
    const err = decodeErr(p.buf, p.start, p.end);
    const masked = this.masker.maskMessage(withoutEchoedValue(err.code, err.message));
    return masked === err.message ? undefined : framePacket(encodeErr(err.code, err.sqlState, masked), p.seq);
  }

  private isTerminator(p: Packet): boolean {
    if (p.buf[p.start] !== 0xfe) return false;
    return this.deprecateEof ? p.large === null && p.end - p.start < 0xffffff : isEof(p.buf, p.start, p.end);
  }

  /** After a result: another one follows when the status says so, else the command is answered. */
  private nextResult(status: number): void {
    if (status & STATUS.MORE_RESULTS_EXISTS) {
      this.resetResult();
      this.phase = 'first';
    } else this.complete();
  }

  /** Tell Warden's own query what it got, once. */
  private internalDone(e: Expectation, row: (string | null)[] | null, error?: string): void {
    const f = e.onInternal;
    e.onInternal = undefined;
    f?.(row, error);
  }

  private resetResult(): void {
    this.count = 0;
    this.defParts = [];
    this.described = null;
    this.rs = null;
    this.capture = null;
    this.internalRow = null;
  }

  private complete(): void {
    const e = this.current;
    this.current = null;
    this.phase = 'first';
    if (e) this.internalDone(e, this.internalRow);
    this.resetResult();
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }

  // ---- columns and rows ---------------------------------------------------------------------------

  /** The column definitions of the result just read. */
  private decodeDefs(): ColumnDef[] {
    const hit = describedCache.get(this.defsKey);
    if (hit) return hit.defs;
    return this.defParts.map((b) => decodeColumnDef(b, 0, b.length));
  }

  private useColumns(defs: ColumnDef[], key: string): void {
    let d = key ? describedCache.get(key) : undefined;
    if (!d) {
      d = { defs, columns: defs.map((c) => ({ name: c.name, type: c.type })), unmasked: false };
      if (key) {
        if (describedCache.size >= DESCRIBED_MAX) describedCache.clear();
        describedCache.set(key, d);
      }
    }
    this.described = d;
    const e = this.current!;
    const binary = e.kind === 'execute' || e.kind === 'fetch';
    if (this.masker?.enabled && !d.unmasked) {
      // a ResultMasker keeps what it masked: a new one per result
      const rs = this.masker.forColumns(d.defs.map((c) => columnInfo(c, binary)));
      if (rs.active) this.rs = rs;
      else d.unmasked = true;
    }
  }

  private row(e: Expectation, p: Packet): PacketFate {
    const binary = e.kind === 'execute' || e.kind === 'fetch';
    const defs = this.described?.defs ?? [];
    let payload: Buffer | null = null;
    if (this.rs) payload = binary ? maskBinaryRow(this.rs, defs, p.buf, p.start, p.end) : maskTextRow(this.rs, p.buf, p.start, p.end, defs.length);
    let fate: PacketFate;
    if (payload) {
      // the client counts sequence ids: a row that grew past a packet's size is NULLed instead
      if (packetCount(payload.length) !== ((p.lastSeq - p.seq + 256) % 256) + 1) payload = binary ? binaryNullRow(defs.length) : nullRow(defs.length);
      fate = framePacket(payload, p.seq);
    }
    if (e.kind === 'internal') {
      this.internalRow ??= textRowValues(p.buf, p.start, p.end, defs);
      return null;
    }
    if (!e.run) return fate;
    const cap = (this.capture ??= new RowCapture(this.limits));
    if (!cap.capturing) {
      cap.skip();
      return fate;
    }
    const [b, s, t] = payload ? [payload, 0, payload.length] : [p.buf, p.start, p.end];
    const values = (binary ? binaryRowValues(defs, b, s, t) : textRowValues(b, s, t, defs)) ?? defs.map(() => null);
    const original = payload && this.keepOriginals ? ((binary ? binaryRowValues(defs, p.buf, p.start, p.end) : textRowValues(p.buf, p.start, p.end, defs)) ?? undefined) : undefined;
    cap.add(values, t - s, original);
    return fate;
  }

  private finish(run: Running, part: Partial<ResultSummary>): void {
    const c = this.capture;
    const summary: ResultSummary = { rowCount: c?.rowCount ?? 0, durationMs: Date.now() - run.startedAt, ...part };
    if (this.described && !part.error) summary.columns = this.described.columns;
    if (c?.rows.length) summary.rows = c.rows;
    if (c?.originals) summary.originals = c.originals;
    if (c?.truncated) summary.truncated = true;
    const masked = this.rs?.maskedColumns();
    if (masked?.length) summary.maskedColumns = masked;
    this.sink(run.commandId, summary);
    this.capture = null;
  }
}
