// The MySQL packets the engine builds or reads field by field: the handshake (greeting,
// SSL request, response, auth switch), OK / ERR / EOF, column definitions, and the answer
// to COM_STMT_PREPARE. Rows are in rows.ts.
import { CLIENT, UTF8MB4_GENERAL_CI } from './constants.ts';
import { framePacket, ProtocolError, Reader, Writer } from './packets.ts';

// ---- handshake --------------------------------------------------------------------------------

export interface Greeting {
  protocol: number;
  version: string;
  connectionId: number;
  /** the 20 bytes the client scrambles its password with */
  scramble: Buffer;
  capabilities: number;
  charset: number;
  status: number;
  authPlugin: string;
}

export function encodeGreeting(g: Omit<Greeting, 'protocol'>): Buffer {
  const w = new Writer()
    .u8(10)
    .cstring(g.version)
    .u32(g.connectionId)
    .bytes(g.scramble.subarray(0, 8))
    .u8(0)
    .u16(g.capabilities & 0xffff)
    .u8(g.charset)
    .u16(g.status)
    .u16((g.capabilities >>> 16) & 0xffff)
    .u8(g.scramble.length + 1)
    .zeros(10)
    .bytes(g.scramble.subarray(8))
    .u8(0)
    .cstring(g.authPlugin);
  return w.build();
}

export function decodeGreeting(buf: Buffer, start: number, end: number): Greeting {
  const r = new Reader(buf, start, end);
  const protocol = r.u8();
  if (protocol === 0xff) {
    const e = decodeErr(buf, start, end);
    throw new ProtocolError(`the target refused the connection: ${e.message}`, e.code);
  }
  if (protocol !== 10) throw new ProtocolError(`the target speaks protocol version ${protocol}, not 10`);
  const version = r.cstring();
  const connectionId = r.u32();
  const part1 = r.bytes(8);
  r.skip(1);
  let capabilities = r.u16();
  let charset = UTF8MB4_GENERAL_CI, status = 0;
  let part2: Buffer = Buffer.alloc(0);
  let authPlugin = 'mysql_native_password';
  if (r.remaining > 0) {
    charset = r.u8();
    status = r.u16();
    capabilities |= r.u16() << 16;
    const authLen = r.u8();
    r.skip(10);
    if (capabilities & CLIENT.SECURE_CONNECTION) {
      const n = Math.max(13, authLen - 8);
      part2 = Buffer.from(r.bytes(Math.min(n, r.remaining)));
      if (part2.length && part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    }
    if (capabilities & CLIENT.PLUGIN_AUTH) authPlugin = r.cstring();
  }
  return { protocol, version, connectionId, scramble: Buffer.concat([part1, part2]), capabilities: capabilities >>> 0, charset, status, authPlugin };
}

export interface HandshakeResponse {
  capabilities: number;
  maxPacket: number;
  charset: number;
  user: string;
  authResponse: Buffer;
  database: string | null;
  authPlugin: string | null;
  attributes: Map<string, string>;
}

/** The client's first packet: an SSL request (only the first 32 bytes) or its full response. */
export function decodeHandshakeResponse(buf: Buffer, start: number, end: number): HandshakeResponse & { sslRequest: boolean } {
  const r = new Reader(buf, start, end);
  const capabilities = r.u32();
  if (!(capabilities & CLIENT.PROTOCOL_41)) throw new ProtocolError('the client does not speak protocol 4.1; upgrade the client', 1251);
  const maxPacket = r.u32();
  const charset = r.u8();
  r.skip(23);
  const base = { capabilities, maxPacket, charset, user: '', authResponse: Buffer.alloc(0), database: null, authPlugin: null, attributes: new Map<string, string>() };
  if (r.remaining === 0) return { ...base, sslRequest: true };
  const user = r.cstring();
  let authResponse: Buffer;
  if (capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = Buffer.from(r.bytes(r.lenenc() ?? 0));
  else if (capabilities & CLIENT.SECURE_CONNECTION) authResponse = Buffer.from(r.bytes(r.u8()));
  else {
    const s = r.cstring();
    authResponse = Buffer.from(s, 'utf8');
  }
  const database = capabilities & CLIENT.CONNECT_WITH_DB && r.remaining > 0 ? r.cstring() : null;
  const authPlugin = capabilities & CLIENT.PLUGIN_AUTH && r.remaining > 0 ? r.cstring() : null;
  const attributes = new Map<string, string>();
  if (capabilities & CLIENT.CONNECT_ATTRS && r.remaining > 0) {
    const len = r.lenenc() ?? 0;
    const stop = Math.min(r.pos + len, end);
    const a = new Reader(buf, r.pos, stop);
    while (a.remaining > 0) attributes.set(a.lenencString(), a.lenencString());
  }
  return { capabilities, maxPacket, charset, user, authResponse, database: database || null, authPlugin, attributes, sslRequest: false };
}

export function encodeSslRequest(capabilities: number, charset: number): Buffer {
  return new Writer().u32(capabilities).u32(0x1000000).u8(charset).zeros(23).build();
}

export function encodeHandshakeResponse(h: HandshakeResponse): Buffer {
  const w = new Writer().u32(h.capabilities).u32(h.maxPacket).u8(h.charset).zeros(23).cstring(h.user);
  if (h.capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(h.authResponse);
  else w.u8(h.authResponse.length).bytes(h.authResponse);
  if (h.capabilities & CLIENT.CONNECT_WITH_DB) w.cstring(h.database ?? '');
  if (h.capabilities & CLIENT.PLUGIN_AUTH) w.cstring(h.authPlugin ?? '');
  if (h.capabilities & CLIENT.CONNECT_ATTRS) {
    const a = new Writer();
    for (const [k, v] of h.attributes) a.lenencString(k).lenencString(v);
    w.lenencBytes(a.build());
  }
  return w.build();
}

export function encodeAuthSwitch(plugin: string, data: Buffer): Buffer {
  return new Writer().u8(0xfe).cstring(plugin).bytes(data).build();
}

/** AuthMoreData: 0x01 then plugin-specific bytes. */
export function encodeAuthMoreData(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x01]), data]);
}

// ---- OK, ERR, EOF ----------------------------------------------------------------------------------

export interface Ok {
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
  info: string;
}

export function encodeOk(o: Partial<Ok> = {}, header = 0x00): Buffer {
  return new Writer().u8(header).lenenc(o.affectedRows ?? 0).lenenc(o.lastInsertId ?? 0).u16(o.status ?? 2).u16(o.warnings ?? 0).build();
}

/** The status flags of an OK packet (0x00, or 0xFE ending a result under DEPRECATE_EOF). */
export function okStatus(buf: Buffer, start: number, end: number): { affectedRows: number; status: number; info: string } {
  const r = new Reader(buf, start + 1, end);
  const affectedRows = r.lenenc() ?? 0;
  r.lenenc();
  const status = r.remaining >= 2 ? r.u16() : 0;
  if (r.remaining >= 2) r.u16();
  let info = '';
  if (r.remaining > 0) {
    try {
      info = r.lenencString();
    } catch {
      info = '';
    }
  }
  return { affectedRows, status, info };
}

/** An EOF packet: 0xFE and fewer than 9 bytes (a longer 0xFE packet is an OK or a row). */
export function isEof(buf: Buffer, start: number, end: number): boolean {
  return buf[start] === 0xfe && end - start < 9;
}

export function eofStatus(buf: Buffer, start: number, end: number): number {
  return end - start >= 5 ? buf.readUInt16LE(start + 3) : 0;
}

export interface Err {
  code: number;
  sqlState: string;
  message: string;
}

export function encodeErr(code: number, sqlState: string, message: string): Buffer {
  return new Writer().u8(0xff).u16(code).bytes(Buffer.from(`#${sqlState.padEnd(5, '0').slice(0, 5)}`, 'latin1')).bytes(Buffer.from(message, 'utf8')).build();
}

export function decodeErr(buf: Buffer, start: number, end: number): Err {
  const r = new Reader(buf, start + 1, end);
  const code = r.remaining >= 2 ? r.u16() : 0;
  let sqlState = 'HY000';
  if (r.remaining >= 6 && buf[r.pos] === 0x23 /* # */) {
    r.skip(1);
    sqlState = r.bytes(5).toString('latin1');
  }
  return { code, sqlState, message: r.rest().toString('utf8') };
}

/** An ERR packet at sequence id `seq`, framed. */
export function errPacket(seq: number, code: number, sqlState: string, message: string): Buffer {
  return framePacket(encodeErr(code, sqlState, message), seq);
}

// ---- result metadata --------------------------------------------------------------------------------

export interface ColumnDef {
  schema: string;
  /** the table as the query names it (an alias, maybe) */
  table: string;
  /** the table's own name; empty for a computed column */
  orgTable: string;
  name: string;
  orgName: string;
  charset: number;
  length: number;
  type: number;
  flags: number;
  decimals: number;
}

export function decodeColumnDef(buf: Buffer, start: number, end: number): ColumnDef {
  const r = new Reader(buf, start, end);
  r.lenencRange(); // catalog, always "def"
  const schema = r.lenencString();
  const table = r.lenencString();
  const orgTable = r.lenencString();
  const name = r.lenencString();
  const orgName = r.lenencString();
  r.lenenc(); // length of the fixed fields, 0x0c
  const charset = r.u16();
  const length = r.u32();
  const type = r.u8();
  const flags = r.u16();
  const decimals = r.u8();
  return { schema, table, orgTable, name, orgName, charset, length, type, flags, decimals };
}

export function encodeColumnDef(c: ColumnDef): Buffer {
  return new Writer()
    .lenencString('def')
    .lenencString(c.schema)
    .lenencString(c.table)
    .lenencString(c.orgTable)
    .lenencString(c.name)
    .lenencString(c.orgName)
    .lenenc(0x0c)
    .u16(c.charset)
    .u32(c.length)
    .u8(c.type)
    .u16(c.flags)
    .u8(c.decimals)
    .zeros(2)
    .build();
}

/** COM_STMT_PREPARE's OK: the statement id the server assigned, its columns and parameters. */
export interface PrepareOk {
  statementId: number;
  columns: number;
  params: number;
}

export function decodePrepareOk(buf: Buffer, start: number, end: number): PrepareOk {
  const r = new Reader(buf, start + 1, end);
  const statementId = r.u32();
  const columns = r.u16();
  const params = r.u16();
  return { statementId, columns, params };
}
