// Random VALID Postgres messages of every kind, both directions: the round-trip property
// (decode(encode(m)) equals m) and the raw material the mutators break.
import type { BackendMessage, FrontendMessage, FieldDescription } from '../src/protocols/postgres/messages.ts';
import type { Rng } from './rng.ts';

const WORDS = ['', 'a', 's1', 'portal', 'SELECT 1', 'DELETE FROM t', 'é', '日本', 'x'.repeat(40), '$1', "'", ';'];

/** a string with no NUL (a cstring), sometimes multi-byte */
export function str(r: Rng): string {
  if (r.chance(0.6)) return r.pick(WORDS);
  let s = '';
  for (let i = r.small(12); i > 0; i--) s += String.fromCharCode(r.chance(0.9) ? r.range(1, 0x7f) : r.range(0xa0, 0x7ff));
  return s;
}
const u32 = (r: Rng) => r.u32();
const i32 = (r: Rng) => r.edgeInt(32);
const i16 = (r: Rng) => r.edgeInt(16);
const list = <T>(r: Rng, f: (r: Rng) => T, max = 5): T[] => Array.from({ length: r.small(max) }, () => f(r));
const value = (r: Rng): Buffer | null => (r.chance(0.2) ? null : r.bytes(r.small(16)));

export function frontendMessage(r: Rng): FrontendMessage {
  switch (r.int(14)) {
    case 0: return { type: 'Query', text: str(r) };
    case 1: return { type: 'Parse', name: str(r), text: str(r), paramTypes: list(r, u32) };
    case 2: return { type: 'Bind', portal: str(r), statement: str(r), paramFormats: list(r, i16), params: list(r, value), resultFormats: list(r, i16) };
    case 3: return { type: 'Describe', target: r.pick(['S', 'P'] as const), name: str(r) };
    case 4: return { type: 'Execute', portal: str(r), maxRows: i32(r) };
    case 5: return { type: 'Close', target: r.pick(['S', 'P'] as const), name: str(r) };
    case 6: return { type: 'Sync' };
    case 7: return { type: 'Flush' };
    case 8: return { type: 'Terminate' };
    case 9: return { type: 'CopyData', data: r.bytes(r.small(32)) };
    case 10: return { type: 'CopyDone' };
    case 11: return { type: 'CopyFail', message: str(r) };
    case 12: return { type: 'Password', data: r.bytes(r.small(16)) };
    default: return { type: 'FunctionCall', oid: u32(r), argFormats: list(r, i16), args: list(r, value), resultFormat: i16(r) };
  }
}

function field(r: Rng): FieldDescription {
  return { name: str(r), tableOid: u32(r), column: i16(r), typeOid: u32(r), typeSize: i16(r), typeMod: i32(r), format: i16(r) };
}

function notice(r: Rng): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = r.small(6); i > 0; i--) out[String.fromCharCode(r.pick([0x53, 0x56, 0x43, 0x4d, 0x44, 0x48, r.range(1, 0x7f)]))] = str(r);
  return out;
}

export function backendMessage(r: Rng): BackendMessage {
  switch (r.int(24)) {
    case 0: return { type: 'Authentication', code: i32(r), data: r.bytes(r.small(16)) };
    case 1: return { type: 'BackendKeyData', pid: i32(r), key: i32(r) };
    case 2: return { type: 'ParameterStatus', name: str(r), value: str(r) };
    case 3: return { type: 'ReadyForQuery', status: r.pick(['I', 'T', 'E'] as const) };
    case 4: return { type: 'RowDescription', fields: list(r, field) };
    case 5: return { type: 'DataRow', values: list(r, value) };
    case 6: return { type: 'CommandComplete', tag: str(r) };
    case 7: return { type: 'ErrorResponse', fields: notice(r) };
    case 8: return { type: 'NoticeResponse', fields: notice(r) };
    case 9: return { type: 'EmptyQueryResponse' };
    case 10: return { type: 'ParseComplete' };
    case 11: return { type: 'BindComplete' };
    case 12: return { type: 'CloseComplete' };
    case 13: return { type: 'NoData' };
    case 14: return { type: 'PortalSuspended' };
    case 15: return { type: 'ParameterDescription', types: list(r, u32) };
    case 16: return { type: r.pick(['CopyInResponse', 'CopyOutResponse', 'CopyBothResponse'] as const), format: r.int(256), columnFormats: list(r, i16) };
    case 17: return { type: 'CopyData', data: r.bytes(r.small(32)) };
    case 18: return { type: 'CopyDone' };
    case 19: return { type: 'NotificationResponse', pid: i32(r), channel: str(r), payload: str(r) };
    case 20: return { type: 'NegotiateProtocolVersion', minor: i32(r), options: list(r, str) };
    default: return { type: 'FunctionCallResponse', value: value(r) };
  }
}
