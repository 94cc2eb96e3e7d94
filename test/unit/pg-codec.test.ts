import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeFrontend, encodeFrontend, decodeBackend, encodeBackend, decodeStartup, encodeStartup,
  type FrontendMessage, type BackendMessage, type StartupMessage, PROTOCOL_3,
} from '../../src/protocols/postgres/messages.ts';
import { FrameSplitter, STALL } from '../../src/protocols/postgres/frames.ts';
import { ProtocolError } from '../../src/protocols/postgres/buffers.ts';
import { dataRowValues } from '../../src/protocols/postgres/values.ts';

const b = (s: string) => Buffer.from(s);

const frontend: FrontendMessage[] = [
  { type: 'Query', text: 'SELECT 1; SELECT \'é\'' },
  { type: 'Parse', name: 's1', text: 'SELECT $1::int', paramTypes: [23, 4294967295] },
  { type: 'Bind', portal: 'p', statement: 's1', paramFormats: [0, 1], params: [b('42'), null, Buffer.alloc(0)], resultFormats: [1] },
  { type: 'Describe', target: 'S', name: 's1' },
  { type: 'Describe', target: 'P', name: '' },
  { type: 'Execute', portal: '', maxRows: 100 },
  { type: 'Close', target: 'P', name: 'p' },
  { type: 'Sync' }, { type: 'Flush' }, { type: 'Terminate' },
  { type: 'CopyData', data: b('1\tx\n') }, { type: 'CopyDone' }, { type: 'CopyFail', message: 'nope' },
  { type: 'Password', data: b('secret\0') },
  { type: 'FunctionCall', oid: 1598, argFormats: [0], args: [b('x'), null], resultFormat: 1 },
];

const backend: BackendMessage[] = [
  { type: 'Authentication', code: 10, data: b('SCRAM-SHA-256\0\0') },
  { type: 'BackendKeyData', pid: 1234, key: -99 },
  { type: 'ParameterStatus', name: 'server_version', value: '15.19' },
  { type: 'ReadyForQuery', status: 'T' },
  { type: 'RowDescription', fields: [{ name: 'id', tableOid: 16384, column: 1, typeOid: 23, typeSize: 4, typeMod: -1, format: 0 }, { name: 'ñame', tableOid: 0, column: 0, typeOid: 3000000000, typeSize: -1, typeMod: 36, format: 1 }] },
  { type: 'DataRow', values: [b('1'), null, Buffer.alloc(0)] },
  { type: 'CommandComplete', tag: 'SELECT 1' },
  { type: 'ErrorResponse', fields: { S: 'ERROR', C: '42P01', M: 'relation "x" does not exist', P: '15' } },
  { type: 'NoticeResponse', fields: { S: 'NOTICE', C: '00000', M: 'hello' } },
  { type: 'EmptyQueryResponse' }, { type: 'ParseComplete' }, { type: 'BindComplete' }, { type: 'CloseComplete' },
  { type: 'NoData' }, { type: 'PortalSuspended' },
  { type: 'ParameterDescription', types: [23, 25, 4294967295] },
  { type: 'CopyInResponse', format: 0, columnFormats: [0, 0] },
  { type: 'CopyOutResponse', format: 1, columnFormats: [1] },
  { type: 'CopyBothResponse', format: 0, columnFormats: [] },
  { type: 'CopyData', data: b('row\n') }, { type: 'CopyDone' },
  { type: 'NotificationResponse', pid: 7, channel: 'ch', payload: 'hi' },
  { type: 'NegotiateProtocolVersion', minor: 0, options: ['_pq_.x'] },
  { type: 'FunctionCallResponse', value: null },
  { type: 'FunctionCallResponse', value: b('v') },
];

function frames(buf: Buffer, max = 1 << 20): { type: number; start: number; end: number }[] {
  const out: { type: number; start: number; end: number }[] = [];
  new FrameSplitter(max).push(buf, (type, _b, start, end) => out.push({ type, start, end }));
  return out;
}

test('every frontend message round-trips', () => {
  for (const m of frontend) {
    const enc = encodeFrontend(m);
    const [f] = frames(enc);
    assert.ok(f, m.type);
    assert.deepEqual(decodeFrontend(f.type, enc, f.start, f.end), m, m.type);
  }
});

test('every backend message round-trips', () => {
  for (const m of backend) {
    const enc = encodeBackend(m);
    const [f] = frames(enc);
    assert.ok(f, m.type);
    assert.deepEqual(decodeBackend(f.type, enc, f.start, f.end), m, m.type);
  }
});

test('startup-phase messages round-trip', () => {
  const ms: StartupMessage[] = [
    { type: 'Startup', protocol: PROTOCOL_3, params: { user: 'app-db', database: 'x', application_name: 'psql' } },
    { type: 'SSLRequest' }, { type: 'GSSENCRequest' }, { type: 'CancelRequest', pid: 5, key: -7 },
  ];
  for (const m of ms) {
    const enc = encodeStartup(m);
    assert.equal(enc.readInt32BE(0), enc.length);
    assert.deepEqual(decodeStartup(enc, 4, enc.length), m);
  }
  const v2 = Buffer.alloc(8);
  v2.writeInt32BE(8, 0);
  v2.writeInt32BE(2 << 16, 4);
  assert.throws(() => decodeStartup(v2, 4, 8), /unsupported protocol version 2\.0/);
});

test('the splitter yields frames across arbitrary chunk boundaries', () => {
  const all = Buffer.concat(backend.map((m) => encodeBackend(m)));
  for (const step of [1, 2, 3, 7, 64]) {
    const s = new FrameSplitter(1 << 20);
    const got: BackendMessage[] = [];
    let forwarded = 0;
    for (let i = 0; i < all.length; i += step) {
      const out = s.push(all.subarray(i, i + step), (t, buf, st, en) => got.push(decodeBackend(t, buf, st, en)));
      forwarded += out.length;
    }
    assert.deepEqual(got, backend, `step ${step}`);
    assert.equal(forwarded, all.length);
    assert.equal(s.buffered, 0);
  }
});

test('malformed and oversized frames are refused with a protocol error', () => {
  const bad = Buffer.from([0x51, 0, 0, 0, 2]);
  assert.throws(() => frames(bad), (e: unknown) => e instanceof ProtocolError && /invalid message length 2/.test(e.message));
  const big = Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]);
  assert.throws(() => frames(big, 1024), (e: unknown) => e instanceof ProtocolError && e.code === '54000');
  // A string field without its NUL terminator.
  const q = Buffer.from([0x51, 0, 0, 0, 6, 0x41, 0x42]);
  const [f] = frames(q);
  assert.throws(() => decodeFrontend(f!.type, q, f!.start, f!.end), /NUL-terminated/);
  // A Bind whose parameter length points past the end.
  const bind = encodeFrontend({ type: 'Bind', portal: '', statement: '', paramFormats: [], params: [b('abc')], resultFormats: [] });
  bind.writeInt32BE(1000, bind.length - 2 - 3 - 4);
  const [g] = frames(bind);
  assert.throws(() => decodeFrontend(g!.type, bind, g!.start, g!.end), /shorter than its fields/);
  assert.throws(() => decodeFrontend(0x7a, q, 5, 5), /unknown frontend message type 0x7a/);
});

test('pushJudged forwards untouched frames as views and only what the judge changed, at any chunk size', () => {
  const frames = backend.map((m) => encodeBackend(m));
  const all = Buffer.concat(frames);
  // Drop every ParseComplete, replace every DataRow, keep the rest.
  const replacement = encodeBackend({ type: 'DataRow', values: [b('masked')] });
  const expected = Buffer.concat(frames.filter((f) => f[0] !== 0x31).map((f) => (f[0] === 0x44 ? replacement : f)));
  for (const step of [1, 2, 3, 7, 64, all.length]) {
    const s = new FrameSplitter(1 << 20);
    const out: Buffer[] = [];
    for (let i = 0; i < all.length; i += step) {
      out.push(...s.pushJudged(all.subarray(i, i + step), (type) => (type === 0x31 ? null : type === 0x44 ? replacement : undefined)));
    }
    assert.deepEqual(Buffer.concat(out), expected, `step ${step}`);
    assert.equal(s.buffered, 0);
  }
  // A large frame arriving in many small chunks is joined once, whole.
  const big = encodeBackend({ type: 'CopyData', data: Buffer.alloc(300_000, 7) });
  const s = new FrameSplitter(1 << 20);
  const seen: number[] = [];
  const out: Buffer[] = [];
  for (let i = 0; i < big.length; i += 4096) out.push(...s.pushJudged(big.subarray(i, i + 4096), (_t, buf, start, end) => void seen.push(end - start, buf.length)));
  assert.deepEqual(seen, [300_000, big.length]);
  assert.deepEqual(Buffer.concat(out), big);
});

test('pushJudged STALL holds the stalled frame and everything after it; fed again, the stream comes out whole', () => {
  const frames = backend.map((m) => encodeBackend(m));
  const all = Buffer.concat(frames);
  const stallOn = frames.findIndex((f) => f[0] === 0x54); // the RowDescription
  assert.ok(stallOn > 0);
  for (const step of [1, 3, 7, 64, all.length]) {
    const s = new FrameSplitter(1 << 20);
    const out: Buffer[] = [];
    let stalled = 0;
    let waiting = true; // until the "names" are in, the RowDescription stalls
    const judge = (type: number) => (type === 0x54 && waiting ? (stalled++, STALL) : undefined);
    const feed = (chunk: Buffer) => {
      out.push(...s.pushJudged(chunk, judge));
      const held = s.takeHeld();
      if (held) {
        // What was forwarded so far ends right before the stalled frame.
        assert.deepEqual(Buffer.concat(out), Buffer.concat(frames.slice(0, stallOn)), `step ${step}`);
        waiting = false;
        feed(held);
      }
    };
    for (let i = 0; i < all.length; i += step) feed(all.subarray(i, i + step));
    assert.equal(stalled, 1);
    assert.deepEqual(Buffer.concat(out), all, `step ${step}`);
    assert.equal(s.buffered, 0);
    assert.equal(s.takeHeld(), null);
  }
});

// Found by `npm run fuzz` (test/fuzz-cases/codec-615.json, relay-539, relay-853): an int16
// count read as negative made `new Array(n)` throw a RangeError, which the relay reported
// as an internal error (XX000) instead of a protocol error.
test('a negative or oversized count in a message is a protocol error, not an array sized by it', () => {
  const isProtocolError = (e: unknown) => e instanceof ProtocolError && /count of -?\d+ does not fit/.test(e.message);
  const cases: { frame: Buffer; at: number; decode: (type: number, buf: Buffer, start: number, end: number) => unknown }[] = [
    // the parameter count of a Parse, the parameter-format count and value count of a Bind
    { frame: encodeFrontend({ type: 'Parse', name: '', text: 'x', paramTypes: [] }), at: 5 + 3, decode: decodeFrontend },
    { frame: encodeFrontend({ type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }), at: 5 + 2, decode: decodeFrontend },
    { frame: encodeFrontend({ type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }), at: 5 + 4, decode: decodeFrontend },
    { frame: encodeFrontend({ type: 'FunctionCall', oid: 1, argFormats: [], args: [], resultFormat: 0 }), at: 5 + 6, decode: decodeFrontend },
    // the field count of a RowDescription, the value count of a DataRow, the type count of a ParameterDescription
    { frame: encodeBackend({ type: 'RowDescription', fields: [] }), at: 5, decode: decodeBackend },
    { frame: encodeBackend({ type: 'DataRow', values: [] }), at: 5, decode: decodeBackend },
    { frame: encodeBackend({ type: 'ParameterDescription', types: [] }), at: 5, decode: decodeBackend },
  ];
  for (const { frame, at, decode } of cases) {
    for (const n of [-1, -32768, 32767]) {
      const f = Buffer.from(frame);
      f.writeInt16BE(n, at);
      assert.throws(() => decode(f[0]!, f, 5, f.length), isProtocolError, `${String.fromCharCode(f[0]!)} with a count of ${n}`);
    }
  }
});

// Found by `npm run fuzz` (test/fuzz-cases/relay-1924.json): the relay's fast DataRow reader
// read counts and lengths past its frame (into the next frame, or past the buffer: a
// RangeError that ended the session as a "malformed message" instead of a protocol error).
test('the DataRow fast path reads only within its frame', () => {
  const row = encodeBackend({ type: 'DataRow', values: [b('ab'), null] });
  assert.deepEqual(dataRowValues(row, 5, row.length, null), ['ab', null]);
  const isProtocolError = (e: unknown) => e instanceof ProtocolError;
  // a count of more values than the frame holds, with a next frame right after it
  const tooMany = Buffer.concat([Buffer.from(row), encodeBackend({ type: 'CommandComplete', tag: 'SELECT 1' })]);
  tooMany.writeInt16BE(3, 5);
  assert.throws(() => dataRowValues(tooMany, 5, row.length, null), isProtocolError);
  const negative = Buffer.from(row);
  negative.writeInt16BE(-1, 5);
  assert.throws(() => dataRowValues(negative, 5, negative.length, null), isProtocolError);
  // a payload too short for its count, at the end of the buffer
  const empty = Buffer.from([0x44, 0, 0, 0, 4]);
  assert.throws(() => dataRowValues(empty, 5, 5, null), isProtocolError);
  // a value longer than the frame: the next value's length would be read past the end
  const long = encodeBackend({ type: 'DataRow', values: [b('ab'), b('c')] });
  long.writeInt32BE(100, 7);
  assert.throws(() => dataRowValues(long, 5, long.length, null), isProtocolError);
});
