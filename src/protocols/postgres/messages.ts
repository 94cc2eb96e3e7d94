// Structured encode/decode of every Postgres protocol message (v3.0). The relay's hot
// path reads only the few fields it needs straight from the frame; these functions
// serve the handshake, the messages Warden writes itself, and the round-trip tests.
import { Reader, Writer, ProtocolError } from './buffers.ts';

export const PROTOCOL_3 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

export interface FieldDescription {
  name: string;
  tableOid: number;
  column: number;
  typeOid: number;
  typeSize: number;
  typeMod: number;
  format: number;
}

/** ErrorResponse / NoticeResponse fields keyed by their one-letter code (S, C, M, D, H, ...). */
export type NoticeFields = Record<string, string>;

export type FrontendMessage =
  | { type: 'Query'; text: string }
  | { type: 'Parse'; name: string; text: string; paramTypes: number[] }
  | { type: 'Bind'; portal: string; statement: string; paramFormats: number[]; params: (Buffer | null)[]; resultFormats: number[] }
  | { type: 'Describe'; target: 'S' | 'P'; name: string }
  | { type: 'Execute'; portal: string; maxRows: number }
  | { type: 'Close'; target: 'S' | 'P'; name: string }
  | { type: 'Sync' }
  | { type: 'Flush' }
  | { type: 'Terminate' }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'CopyDone' }
  | { type: 'CopyFail'; message: string }
  | { type: 'Password'; data: Buffer }
  | { type: 'FunctionCall'; oid: number; argFormats: number[]; args: (Buffer | null)[]; resultFormat: number };

export type StartupMessage =
  | { type: 'Startup'; protocol: number; params: Record<string, string> }
  | { type: 'SSLRequest' }
  | { type: 'GSSENCRequest' }
  | { type: 'CancelRequest'; pid: number; key: number };

export type BackendMessage =
  | { type: 'Authentication'; code: number; data: Buffer }
  | { type: 'BackendKeyData'; pid: number; key: number }
  | { type: 'ParameterStatus'; name: string; value: string }
  | { type: 'ReadyForQuery'; status: 'I' | 'T' | 'E' }
  | { type: 'RowDescription'; fields: FieldDescription[] }
  | { type: 'DataRow'; values: (Buffer | null)[] }
  | { type: 'CommandComplete'; tag: string }
  | { type: 'ErrorResponse'; fields: NoticeFields }
  | { type: 'NoticeResponse'; fields: NoticeFields }
  | { type: 'EmptyQueryResponse' }
  | { type: 'ParseComplete' }
  | { type: 'BindComplete' }
  | { type: 'CloseComplete' }
  | { type: 'NoData' }
  | { type: 'PortalSuspended' }
  | { type: 'ParameterDescription'; types: number[] }
  | { type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse'; format: number; columnFormats: number[] }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'CopyDone' }
  | { type: 'NotificationResponse'; pid: number; channel: string; payload: string }
  | { type: 'NegotiateProtocolVersion'; minor: number; options: string[] }
  | { type: 'FunctionCallResponse'; value: Buffer | null };

const FRONTEND_CODES: Record<FrontendMessage['type'], string> = {
  Query: 'Q', Parse: 'P', Bind: 'B', Describe: 'D', Execute: 'E', Close: 'C', Sync: 'S', Flush: 'H', Terminate: 'X',
  CopyData: 'd', CopyDone: 'c', CopyFail: 'f', Password: 'p', FunctionCall: 'F',
};

const BACKEND_CODES: Record<BackendMessage['type'], string> = {
  Authentication: 'R', BackendKeyData: 'K', ParameterStatus: 'S', ReadyForQuery: 'Z', RowDescription: 'T', DataRow: 'D',
  CommandComplete: 'C', ErrorResponse: 'E', NoticeResponse: 'N', EmptyQueryResponse: 'I', ParseComplete: '1',
  BindComplete: '2', CloseComplete: '3', NoData: 'n', PortalSuspended: 's', ParameterDescription: 't',
  CopyInResponse: 'G', CopyOutResponse: 'H', CopyBothResponse: 'W', CopyData: 'd', CopyDone: 'c',
  NotificationResponse: 'A', NegotiateProtocolVersion: 'v', FunctionCallResponse: 'V',
};

const code = (c: string) => c.charCodeAt(0);

function readValues(r: Reader, n: number): (Buffer | null)[] {
  const out: (Buffer | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    out[i] = len === -1 ? null : r.bytes(len);
  }
  return out;
}
function writeValues(w: Writer, values: (Buffer | null)[]): void {
  w.int16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else w.int32(v.length).bytes(v);
  }
}
function readInt16s(r: Reader): number[] {
  const n = r.count(2);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.int16();
  return out;
}
function writeInt16s(w: Writer, xs: number[]): void {
  w.int16(xs.length);
  for (const x of xs) w.int16(x);
}
function readNotice(r: Reader): NoticeFields {
  const fields: NoticeFields = {};
  for (let c = r.byte(); c !== 0; c = r.byte()) fields[String.fromCharCode(c)] = r.cstring();
  return fields;
}
function writeNotice(w: Writer, fields: NoticeFields): void {
  for (const [k, v] of Object.entries(fields)) w.byte(code(k)).cstring(v);
  w.byte(0);
}
function target(b: number): 'S' | 'P' {
  if (b === 0x53) return 'S';
  if (b === 0x50) return 'P';
  throw new ProtocolError(`invalid Describe/Close target ${b}`);
}

/** Decode a frontend frame whose payload is buf[start, end). */
export function decodeFrontend(type: number, buf: Buffer, start: number, end: number): FrontendMessage {
  const r = new Reader(buf, start, end);
  switch (String.fromCharCode(type)) {
    case 'Q': return { type: 'Query', text: r.cstring() };
    case 'P': {
      const name = r.cstring(), text = r.cstring();
      const n = r.count(4);
      const paramTypes = new Array<number>(n);
      for (let i = 0; i < n; i++) paramTypes[i] = r.int32() >>> 0;
      return { type: 'Parse', name, text, paramTypes };
    }
    case 'B': {
      const portal = r.cstring(), statement = r.cstring();
      const paramFormats = readInt16s(r);
      const params = readValues(r, r.count(4));
      return { type: 'Bind', portal, statement, paramFormats, params, resultFormats: readInt16s(r) };
    }
    case 'D': return { type: 'Describe', target: target(r.byte()), name: r.cstring() };
    case 'E': return { type: 'Execute', portal: r.cstring(), maxRows: r.int32() };
    case 'C': return { type: 'Close', target: target(r.byte()), name: r.cstring() };
    case 'S': return { type: 'Sync' };
    case 'H': return { type: 'Flush' };
    case 'X': return { type: 'Terminate' };
    case 'd': return { type: 'CopyData', data: r.rest() };
    case 'c': return { type: 'CopyDone' };
    case 'f': return { type: 'CopyFail', message: r.cstring() };
    case 'p': return { type: 'Password', data: r.rest() };
    case 'F': {
      const oid = r.int32() >>> 0;
      const argFormats = readInt16s(r);
      const args = readValues(r, r.count(4));
      return { type: 'FunctionCall', oid, argFormats, args, resultFormat: r.int16() };
    }
    default: throw new ProtocolError(`unknown frontend message type 0x${type.toString(16)}`);
  }
}

export function encodeFrontend(m: FrontendMessage, w = new Writer()): Buffer {
  w.begin(code(FRONTEND_CODES[m.type]));
  switch (m.type) {
    case 'Query': w.cstring(m.text); break;
    case 'Parse': w.cstring(m.name).cstring(m.text).int16(m.paramTypes.length); for (const t of m.paramTypes) w.int32(t | 0); break;
    case 'Bind': w.cstring(m.portal).cstring(m.statement); writeInt16s(w, m.paramFormats); writeValues(w, m.params); writeInt16s(w, m.resultFormats); break;
    case 'Describe': case 'Close': w.byte(code(m.target)).cstring(m.name); break;
    case 'Execute': w.cstring(m.portal).int32(m.maxRows); break;
    case 'CopyData': w.bytes(m.data); break;
    case 'CopyFail': w.cstring(m.message); break;
    case 'Password': w.bytes(m.data); break;
    case 'FunctionCall': w.int32(m.oid | 0); writeInt16s(w, m.argFormats); writeValues(w, m.args); w.int16(m.resultFormat); break;
    default: break;
  }
  return w.end().flush();
}

/** Decode an untyped startup-phase message (its payload after the length word). */
export function decodeStartup(buf: Buffer, start: number, end: number): StartupMessage {
  const r = new Reader(buf, start, end);
  const protocol = r.int32();
  if (protocol === SSL_REQUEST) return { type: 'SSLRequest' };
  if (protocol === GSSENC_REQUEST) return { type: 'GSSENCRequest' };
  if (protocol === CANCEL_REQUEST) return { type: 'CancelRequest', pid: r.int32(), key: r.int32() };
  if (protocol >> 16 !== 3) throw new ProtocolError(`unsupported protocol version ${protocol >> 16}.${protocol & 0xffff}`, '0A000');
  const params: Record<string, string> = {};
  while (r.remaining() > 1) {
    const k = r.cstring();
    params[k] = r.cstring();
  }
  return { type: 'Startup', protocol, params };
}

export function encodeStartup(m: StartupMessage, w = new Writer()): Buffer {
  w.begin(0);
  switch (m.type) {
    case 'SSLRequest': w.int32(SSL_REQUEST); break;
    case 'GSSENCRequest': w.int32(GSSENC_REQUEST); break;
    case 'CancelRequest': w.int32(CANCEL_REQUEST).int32(m.pid).int32(m.key); break;
    case 'Startup':
      w.int32(m.protocol);
      for (const [k, v] of Object.entries(m.params)) w.cstring(k).cstring(v);
      w.byte(0);
      break;
  }
  return w.end().flush();
}

export function decodeBackend(type: number, buf: Buffer, start: number, end: number): BackendMessage {
  const r = new Reader(buf, start, end);
  switch (String.fromCharCode(type)) {
    case 'R': return { type: 'Authentication', code: r.int32(), data: r.rest() };
    case 'K': return { type: 'BackendKeyData', pid: r.int32(), key: r.int32() };
    case 'S': return { type: 'ParameterStatus', name: r.cstring(), value: r.cstring() };
    case 'Z': {
      const s = String.fromCharCode(r.byte());
      if (s !== 'I' && s !== 'T' && s !== 'E') throw new ProtocolError(`invalid transaction status ${s}`);
      return { type: 'ReadyForQuery', status: s };
    }
    case 'T': {
      const n = r.count(19); // a name's NUL and 18 bytes of fixed fields
      const fields: FieldDescription[] = new Array(n);
      for (let i = 0; i < n; i++) {
        fields[i] = { name: r.cstring(), tableOid: r.int32() >>> 0, column: r.int16(), typeOid: r.int32() >>> 0, typeSize: r.int16(), typeMod: r.int32(), format: r.int16() };
      }
      return { type: 'RowDescription', fields };
    }
    case 'D': return { type: 'DataRow', values: readValues(r, r.count(4)) };
    case 'C': return { type: 'CommandComplete', tag: r.cstring() };
    case 'E': return { type: 'ErrorResponse', fields: readNotice(r) };
    case 'N': return { type: 'NoticeResponse', fields: readNotice(r) };
    case 'I': return { type: 'EmptyQueryResponse' };
    case '1': return { type: 'ParseComplete' };
    case '2': return { type: 'BindComplete' };
    case '3': return { type: 'CloseComplete' };
    case 'n': return { type: 'NoData' };
    case 's': return { type: 'PortalSuspended' };
    case 't': {
      const n = r.count(4);
      const types = new Array<number>(n);
      for (let i = 0; i < n; i++) types[i] = r.int32() >>> 0;
      return { type: 'ParameterDescription', types };
    }
    case 'G': case 'H': case 'W': {
      const t = type === 0x47 ? 'CopyInResponse' : type === 0x48 ? 'CopyOutResponse' : 'CopyBothResponse';
      return { type: t, format: r.byte(), columnFormats: readInt16s(r) };
    }
    case 'd': return { type: 'CopyData', data: r.rest() };
    case 'c': return { type: 'CopyDone' };
    case 'A': return { type: 'NotificationResponse', pid: r.int32(), channel: r.cstring(), payload: r.cstring() };
    case 'v': {
      const minor = r.int32();
      const n = r.int32();
      const options: string[] = [];
      for (let i = 0; i < n; i++) options.push(r.cstring());
      return { type: 'NegotiateProtocolVersion', minor, options };
    }
    case 'V': {
      const len = r.int32();
      return { type: 'FunctionCallResponse', value: len === -1 ? null : r.bytes(len) };
    }
    default: throw new ProtocolError(`unknown backend message type 0x${type.toString(16)}`);
  }
}

export function encodeBackend(m: BackendMessage, w = new Writer()): Buffer {
  w.begin(code(BACKEND_CODES[m.type]));
  switch (m.type) {
    case 'Authentication': w.int32(m.code).bytes(m.data); break;
    case 'BackendKeyData': w.int32(m.pid).int32(m.key); break;
    case 'ParameterStatus': w.cstring(m.name).cstring(m.value); break;
    case 'ReadyForQuery': w.byte(code(m.status)); break;
    case 'RowDescription':
      w.int16(m.fields.length);
      for (const f of m.fields) w.cstring(f.name).int32(f.tableOid | 0).int16(f.column).int32(f.typeOid | 0).int16(f.typeSize).int32(f.typeMod).int16(f.format);
      break;
    case 'DataRow': writeValues(w, m.values); break;
    case 'CommandComplete': w.cstring(m.tag); break;
    case 'ErrorResponse': case 'NoticeResponse': writeNotice(w, m.fields); break;
    case 'ParameterDescription': w.int16(m.types.length); for (const t of m.types) w.int32(t | 0); break;
    case 'CopyInResponse': case 'CopyOutResponse': case 'CopyBothResponse': w.byte(m.format); writeInt16s(w, m.columnFormats); break;
    case 'CopyData': w.bytes(m.data); break;
    case 'NotificationResponse': w.int32(m.pid).cstring(m.channel).cstring(m.payload); break;
    case 'NegotiateProtocolVersion': w.int32(m.minor).int32(m.options.length); for (const o of m.options) w.cstring(o); break;
    case 'FunctionCallResponse': if (m.value === null) w.int32(-1); else w.int32(m.value.length).bytes(m.value); break;
    default: break;
  }
  return w.end().flush();
}

/** An ErrorResponse as Postgres writes it (severity, SQLSTATE, message). */
export function errorResponse(sqlstate: string, message: string, extra: NoticeFields = {}): Buffer {
  return encodeBackend({ type: 'ErrorResponse', fields: { S: 'ERROR', V: 'ERROR', C: sqlstate, M: message, ...extra } });
}

export function fatalResponse(sqlstate: string, message: string, extra: NoticeFields = {}): Buffer {
  return encodeBackend({ type: 'ErrorResponse', fields: { S: 'FATAL', V: 'FATAL', C: sqlstate, M: message, ...extra } });
}
