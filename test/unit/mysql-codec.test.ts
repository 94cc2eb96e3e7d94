// The MySQL codec by round-trip: packet framing (16 MiB split and reassembly, the bound),
// length-encoded integers, the handshake, and rows masked value by value, failing closed
// where a row cannot be read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileMasker } from '../../src/masking/index.ts';
import { CLIENT, FLAG, MAX_PACKET_PAYLOAD, TYPE } from '../../src/protocols/mysql/constants.ts';
import { decodeGreeting, decodeHandshakeResponse, encodeGreeting, encodeHandshakeResponse, type ColumnDef } from '../../src/protocols/mysql/messages.ts';
import { framePacket, lenencInt, PacketSplitter, ProtocolError, Reader, type Packet } from '../../src/protocols/mysql/packets.ts';
import { binaryRowValues, maskBinaryRow, maskTextRow, textRowValues } from '../../src/protocols/mysql/rows.ts';
import { columnInfo } from '../../src/protocols/mysql/column-types.ts';
import { checkNative, nativeScramble, nativeVerifier } from '../../src/protocols/mysql/auth.ts';

const collect = (s: PacketSplitter, chunks: Buffer[]) => {
  const got: Packet[] = [];
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...s.push(c, (p) => void got.push({ ...p, buf: Buffer.from(p.buf.subarray(p.start, p.end)), start: 0, end: p.end - p.start })));
  return { got, out: Buffer.concat(out) };
};

test('packets split anywhere are reassembled; what passes is the bytes as they came', () => {
  const wire = Buffer.concat([framePacket(Buffer.from('hello'), 0), framePacket(Buffer.alloc(0), 1), framePacket(Buffer.from('world!'), 2)]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const { got, out } = collect(new PacketSplitter(1 << 20), [wire.subarray(0, cut), wire.subarray(cut)]);
    assert.deepEqual(got.map((p) => [p.seq, p.buf.toString()]), [[0, 'hello'], [1, ''], [2, 'world!']]);
    assert.ok(out.equals(wire));
  }
});

test('a payload of 16 MiB or more is framed in parts and read back as one', () => {
  const payload = Buffer.alloc(MAX_PACKET_PAYLOAD + 10, 0x61);
  const wire = framePacket(payload, 3);
  assert.equal(wire.length, payload.length + 8, 'two headers');
  assert.equal(wire[3], 3);
  assert.equal(wire[4 + MAX_PACKET_PAYLOAD + 3], 4, 'the second part has the next sequence id');
  const { got, out } = collect(new PacketSplitter(64 << 20), [wire.subarray(0, 1000), wire.subarray(1000)]);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.seq, 3);
  assert.equal(got[0]!.lastSeq, 4);
  assert.ok(got[0]!.buf.equals(payload));
  assert.ok(out.equals(wire));
  // exactly 16 MiB - 1: an empty packet ends it
  const exact = framePacket(Buffer.alloc(MAX_PACKET_PAYLOAD, 0x62), 0);
  assert.equal(exact.length, MAX_PACKET_PAYLOAD + 8);
});

test('a packet larger than the bound is refused before it is buffered', () => {
  const s = new PacketSplitter(1024);
  assert.throws(() => s.push(Buffer.from([0x00, 0x08, 0x00, 0x00, 0x03]), () => undefined), (e: Error) => e instanceof ProtocolError && /larger than 1024/.test(e.message));
  const large = new PacketSplitter(MAX_PACKET_PAYLOAD + 5);
  const wire = framePacket(Buffer.alloc(MAX_PACKET_PAYLOAD + 100), 0);
  assert.throws(() => large.push(wire, () => undefined), /larger than/);
});

test('length-encoded integers', () => {
  for (const n of [0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 2 ** 40]) {
    const b = lenencInt(n);
    assert.equal(new Reader(b, 0, b.length).lenenc(), n);
  }
  assert.equal(new Reader(Buffer.from([0xfb]), 0, 1).lenenc(), null);
  assert.throws(() => new Reader(Buffer.from([0xfc, 1]), 0, 2).lenenc(), /shorter/);
});

test('handshake round trip', () => {
  const scramble = Buffer.from('abcdefghijklmnopqrst');
  const g = decodeGreeting(...(() => {
    const b = encodeGreeting({ version: '10.11.6-MariaDB', connectionId: 77, scramble, capabilities: CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.SSL, charset: 45, status: 2, authPlugin: 'caching_sha2_password' });
    return [b, 0, b.length] as const;
  })());
  assert.equal(g.version, '10.11.6-MariaDB');
  assert.equal(g.connectionId, 77);
  assert.ok(g.scramble.equals(scramble));
  assert.equal(g.authPlugin, 'caching_sha2_password');
  const caps = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.CONNECT_WITH_DB | CLIENT.CONNECT_ATTRS;
  const r = encodeHandshakeResponse({ capabilities: caps, maxPacket: 1 << 24, charset: 45, user: 'shop', authResponse: Buffer.from([1, 2, 3]), database: 'app', authPlugin: 'mysql_native_password', attributes: new Map([['program_name', 'mysql']]) });
  const h = decodeHandshakeResponse(r, 0, r.length);
  assert.equal(h.sslRequest, false);
  assert.equal(h.user, 'shop');
  assert.deepEqual([...h.authResponse], [1, 2, 3]);
  assert.equal(h.database, 'app');
  assert.equal(h.authPlugin, 'mysql_native_password');
  assert.equal(h.attributes.get('program_name'), 'mysql');
});

test('a native scramble proves the token behind a stored verifier, and nothing else', () => {
  const scramble = Buffer.from('01234567890123456789');
  const token = 'wdn_example';
  const v = nativeVerifier(token);
  assert.ok(checkNative(scramble, nativeScramble(token, scramble), v));
  assert.ok(!checkNative(scramble, nativeScramble('wdn_other', scramble), v));
  assert.ok(!checkNative(Buffer.from('x1234567890123456789'), nativeScramble(token, scramble), v), 'an answer to another scramble');
});

// ---- rows -----------------------------------------------------------------------------------

const def = (name: string, type: number, extra: Partial<ColumnDef> = {}): ColumnDef => ({ schema: 'shop', table: 'people', orgTable: 'people', name, orgName: name, charset: 45, length: 100, type, flags: 0, decimals: 0, ...extra });
const masker = compileMasker({ columns: [{ match: 'people.age', action: 'mask' }] });
const lenenc = (s: string | null) => (s === null ? Buffer.from([0xfb]) : Buffer.concat([lenencInt(Buffer.byteLength(s)), Buffer.from(s)]));

test('text rows: values masked where they lie, lengths rewritten, NULLs kept', () => {
  const defs = [def('id', TYPE.LONG), def('contact', TYPE.VAR_STRING), def('notes', TYPE.BLOB), def('age', TYPE.LONG)];
  const rs = masker.forColumns(defs.map((d) => columnInfo(d, false)));
  const row = Buffer.concat([lenenc('1'), lenenc('ann@example.com'), lenenc(null), lenenc('42')]);
  const out = maskTextRow(rs, row, 0, row.length, 4)!;
  assert.deepEqual(textRowValues(out, 0, out.length, defs), ['1', '[EMAIL]', null, null], 'found by the detectors; a typed column under a mask rule becomes NULL');
  const clean = Buffer.concat([lenenc('2'), lenenc('no email here'), lenenc(null), lenenc(null)]);
  assert.equal(maskTextRow(rs, clean, 0, clean.length, 4), null, 'unchanged rows are not rebuilt');
  const broken = Buffer.concat([lenenc('1'), Buffer.from([0x40, 0x61])]); // a value longer than the packet
  assert.deepEqual(textRowValues(maskTextRow(rs, broken, 0, broken.length, 4)!, 0, 4, defs), [null, null, null, null], 'a row that cannot be read passes as NULLs');
});

function binaryRow(defs: ColumnDef[], values: (Buffer | null)[]): Buffer {
  const bitmap = Buffer.alloc((defs.length + 9) >> 3);
  values.forEach((v, i) => v === null && (bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7)));
  return Buffer.concat([Buffer.from([0]), bitmap, ...values.filter((v): v is Buffer => v !== null)]);
}

test('binary rows: strings masked, a masked typed value becomes NULL in the bitmap', () => {
  const defs = [def('id', TYPE.LONGLONG, { flags: FLAG.UNSIGNED }), def('contact', TYPE.VAR_STRING), def('age', TYPE.LONG), def('born', TYPE.DATE), def('note', TYPE.VAR_STRING)];
  const rs = masker.forColumns(defs.map((d) => columnInfo(d, true)));
  const id = Buffer.alloc(8);
  id.writeBigUInt64LE(7n);
  const age = Buffer.alloc(4);
  age.writeInt32LE(42);
  const born = Buffer.from([4, 0xbc, 0x07, 2, 3]);
  const row = binaryRow(defs, [id, lenenc('me: ann@example.com'), age, born, null]);
  assert.deepEqual(binaryRowValues(defs, row, 0, row.length), ['7', 'me: ann@example.com', '42', '1980-02-03', null]);
  const out = maskBinaryRow(rs, defs, row, 0, row.length)!;
  assert.deepEqual(binaryRowValues(defs, out, 0, out.length), ['7', 'me: [EMAIL]', null, '1980-02-03', null]);
});

test('binary rows Warden cannot read are masked whole', () => {
  const defs = [def('id', TYPE.LONG), def('mystery', 199), def('email', TYPE.VAR_STRING)];
  const rs = masker.forColumns(defs.map((d) => columnInfo(d, true)));
  const row = binaryRow(defs, [Buffer.from([1, 0, 0, 0]), Buffer.from([3, 0x61, 0x62, 0x63]), lenenc('ann@example.com')]);
  const out = maskBinaryRow(rs, defs, row, 0, row.length)!;
  assert.deepEqual(binaryRowValues([def('id', TYPE.LONG), def('x', TYPE.LONG), def('email', TYPE.VAR_STRING)], out, 0, out.length), [null, null, null]);
  const cut = binaryRow([def('email', TYPE.VAR_STRING)], [lenenc('ann@example.com')]).subarray(0, 6);
  const out2 = maskBinaryRow(masker.forColumns([columnInfo(def('email', TYPE.VAR_STRING), true)]), [def('email', TYPE.VAR_STRING)], cut, 0, cut.length)!;
  assert.deepEqual(binaryRowValues([def('email', TYPE.VAR_STRING)], out2, 0, out2.length), [null]);
});
