// The session's prepared statements as the SERVER holds them: an id exists once the
// server's COM_STMT_PREPARE OK assigned it (never because a client names it), with the
// text and the sql_mode the server read it in; COM_STMT_CLOSE removes it (the server
// answers nothing, and handles commands in order, so it is gone for any later one). An id
// not here is opaque when executed. MariaDB's id 0xFFFFFFFF means "the statement prepared
// last": known only when the last prepare succeeded.
import type { Command } from '../../session/types.ts';
import { TYPE } from './constants.ts';
import type { ColumnDef, PrepareOk } from './messages.ts';
import type { Running } from './responses.ts';
import { binaryContentStart, binaryValueEnd, binaryValueText } from './rows.ts';

export const LAST_PREPARED = 0xffffffff;
/** bytes of COM_STMT_SEND_LONG_DATA kept per statement for the record */
const LONG_DATA_KEPT = 1 << 20;

export interface PreparedStatement {
  id: number;
  text: string;
  params: number;
  /** how the server read the text when it prepared it */
  syntax: Command['syntax'];
  /** the default database when it was prepared: the server resolved its names there, for good */
  database: string | null;
  /** parameter types bound by the last execute that sent them (type, unsigned) */
  paramTypes: [number, boolean][] | null;
  /** COM_STMT_SEND_LONG_DATA since the last execute or reset, per parameter */
  longData: Map<number, Buffer[]>;
  longDataBytes: number;
  /** the columns of the last execute's result: a cursor's rows come by COM_STMT_FETCH */
  resultColumns: ColumnDef[] | null;
  /** the execute whose cursor a fetch reads */
  lastRun: Running | null;
}

export class PreparedStatements {
  private readonly byId = new Map<number, PreparedStatement>();
  private last: number | null = null;

  constructor(private readonly max = 10_000) {}

  /** The server answered a prepare with OK. */
  prepared(ok: PrepareOk, text: string, syntax: Command['syntax'], database: string | null): void {
    if (this.byId.size >= this.max && !this.byId.has(ok.statementId)) {
      // more than the gateway follows: forgetting one makes its executes opaque, never wrong
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    this.byId.set(ok.statementId, { id: ok.statementId, text, params: ok.params, syntax, database, paramTypes: null, longData: new Map(), longDataBytes: 0, resultColumns: null, lastRun: null });
    this.last = ok.statementId;
  }

  /** The server refused a prepare: "the last prepared" is no longer known. */
  failed(): void {
    this.last = null;
  }

  get(id: number): PreparedStatement | undefined {
    if (id === LAST_PREPARED) return this.last === null ? undefined : this.byId.get(this.last);
    return this.byId.get(id);
  }

  close(id: number): void {
    const real = id === LAST_PREPARED ? this.last : id;
    if (real === null) return;
    this.byId.delete(real);
    if (this.last === real) this.last = null;
  }

  /** COM_RESET_CONNECTION (or anything that drops them all). */
  clear(): void {
    this.byId.clear();
    this.last = null;
  }

  longData(id: number, param: number, data: Buffer): void {
    const s = this.get(id);
    if (!s) return;
    const list = s.longData.get(param) ?? [];
    if (s.longDataBytes < LONG_DATA_KEPT) list.push(Buffer.from(data.subarray(0, LONG_DATA_KEPT - s.longDataBytes)));
    s.longDataBytes += data.length;
    s.longData.set(param, list);
  }
}

/**
 * The parameters of a COM_STMT_EXECUTE, as text for the record and for reviews; an error
 * when they cannot be read (the command is then opaque).
 */
export function executeParams(s: PreparedStatement, buf: Buffer, start: number, end: number): { params: (string | null)[]; flags: number } | { error: string } {
  // 0x17, statement id (4), flags (1), iteration count (4)
  if (end - start < 10) return { error: 'a COM_STMT_EXECUTE shorter than its header' };
  const flags = buf[start + 5]!;
  const n = s.params;
  if (n === 0) return { params: [], flags };
  let pos = start + 10;
  const bitmap = pos;
  pos += (n + 7) >> 3;
  if (pos >= end) return { error: 'a COM_STMT_EXECUTE without its parameters' };
  const bound = buf[pos++]!;
  if (bound === 1) {
    if (pos + 2 * n > end) return { error: 'a COM_STMT_EXECUTE with too few parameter types' };
    s.paramTypes = [];
    for (let i = 0; i < n; i++) s.paramTypes.push([buf[pos + 2 * i]!, (buf[pos + 2 * i + 1]! & 0x80) !== 0]);
    pos += 2 * n;
  }
  const types = s.paramTypes;
  if (!types) return { error: 'a COM_STMT_EXECUTE that never bound its parameter types' };
  const params: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    if (buf[bitmap + (i >> 3)]! & (1 << (i & 7))) {
      params.push(null);
      continue;
    }
    const long = s.longData.get(i);
    if (long) {
      // sent before by COM_STMT_SEND_LONG_DATA, not in this packet
      params.push(Buffer.concat(long).toString('utf8') + (s.longDataBytes > LONG_DATA_KEPT ? '…' : ''));
      continue;
    }
    const [type, unsigned] = types[i]!;
    const valueEnd = binaryValueEnd(type, buf, pos, end);
    if (valueEnd < 0) return { error: `parameter ${i + 1} (type ${type}) could not be read` };
    const content = binaryContentStart(type, buf, pos, end);
    params.push(type === TYPE.NULL ? null : binaryValueText({ type, flags: unsigned ? 32 : 0, charset: 45 }, buf, content, valueEnd));
    pos = valueEnd;
  }
  return { params, flags };
}
