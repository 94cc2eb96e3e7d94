// A raw MySQL wire client for attack tests: it sends exactly the packets a test writes
// (commands a driver never sends, ids the server never gave, packets too large or cut
// short) and returns the answers as packets, with small readers for results. It logs in
// with mysql_native_password, which the gateway checks against the verifier of an API key.
import net from 'node:net';
import { CLIENT, COM } from '../../src/protocols/mysql/constants.ts';
import { decodeErr, decodeGreeting, decodePrepareOk, encodeHandshakeResponse, eofStatus, isEof, type Err } from '../../src/protocols/mysql/messages.ts';
import { framePacket, Reader } from '../../src/protocols/mysql/packets.ts';
import { HandshakeReader, type RawPacket } from '../../src/protocols/mysql/handshake-reader.ts';
import { nativeScramble } from '../../src/protocols/mysql/auth.ts';

const CAPS =
  CLIENT.LONG_PASSWORD | CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.TRANSACTIONS |
  CLIENT.MULTI_STATEMENTS | CLIENT.MULTI_RESULTS | CLIENT.PS_MULTI_RESULTS | CLIENT.LOCAL_FILES | CLIENT.CONNECT_WITH_DB;

export interface Result {
  error?: Err;
  /** text values of every row of every result, results in order */
  results: (string | null)[][][];
  /** affected rows of OK results */
  oks: number[];
}

export interface RawMysql {
  /** the connection id the gateway gave this client */
  connectionId: number;
  /** frame and send a payload (sequence id 0 unless given) */
  send(payload: Buffer, seq?: number): void;
  /** send bytes as they are */
  sendRaw(bytes: Buffer): void;
  /** the next packet (rejects after timeoutMs or when the connection closes) */
  next(timeoutMs?: number): Promise<RawPacket>;
  query(sql: string): Promise<Result>;
  /** COM_STMT_PREPARE: the id the server gave, or the error */
  prepare(sql: string): Promise<{ id: number; params: number } | { error: Err }>;
  /** COM_STMT_EXECUTE of `id` with text parameters; rows come back binary, read as raw packets count */
  execute(id: number, params?: string[]): Promise<Result>;
  readonly closed: boolean;
  /** resolves when the gateway closed the connection */
  whenClosed(): Promise<void>;
  close(): void;
}

export async function rawMysqlConnect(port: number, user: string, token: string, opts: { database?: string } = {}): Promise<RawMysql> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  let closed = false;
  const closing = new Promise<void>((resolve) => socket.on('close', () => ((closed = true), resolve())));
  const reader = new HandshakeReader(socket, 64 << 20);
  const hello = await reader.packet();
  const g = decodeGreeting(hello.payload, 0, hello.payload.length);
  socket.write(
    framePacket(
      encodeHandshakeResponse({
        capabilities: CAPS, maxPacket: 1 << 24, charset: 45, user, authResponse: nativeScramble(token, g.scramble),
        database: opts.database ?? '', authPlugin: 'mysql_native_password', attributes: new Map(),
      }),
      1,
    ),
  );
  const answer = await reader.packet();
  if (answer.payload[0] === 0xff) throw new Error(`refused: ${decodeErr(answer.payload, 0, answer.payload.length).message}`);
  if (answer.payload[0] !== 0x00) throw new Error(`unexpected answer 0x${answer.payload[0]?.toString(16)} to the login`);

  const next = async (timeoutMs = 10_000): Promise<RawPacket> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the gateway within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([reader.packet(), late]);
    } finally {
      clearTimeout(timer);
    }
  };

  /** Read one answer to a command: OK, ERR, or results until one ends without MORE_RESULTS. */
  const readResult = async (binary: boolean): Promise<Result> => {
    const out: Result = { results: [], oks: [] };
    for (;;) {
      const first = await next();
      const b = first.payload;
      if (b[0] === 0xff) {
        out.error = decodeErr(b, 0, b.length);
        return out;
      }
      if (b[0] === 0x00) {
        const r = new Reader(b, 1, b.length);
        out.oks.push(r.lenenc() ?? 0);
        r.lenenc();
        if (!(r.u16() & 8)) return out;
        continue;
      }
      const n = new Reader(b, 0, b.length).lenenc() ?? 0;
      for (let i = 0; i < n; i++) await next();
      await next(); // EOF after the columns
      const rows: (string | null)[][] = [];
      for (;;) {
        const p = await next();
        const q = p.payload;
        if (q[0] === 0xff) {
          out.error = decodeErr(q, 0, q.length);
          out.results.push(rows);
          return out;
        }
        if (isEof(q, 0, q.length)) {
          out.results.push(rows);
          if (!(eofStatus(q, 0, q.length) & 8)) return out;
          break;
        }
        if (binary) rows.push([q.toString('latin1')]);
        else {
          const r = new Reader(q, 0, q.length);
          const row: (string | null)[] = [];
          for (let i = 0; i < n; i++) {
            const range = r.lenencRange();
            row.push(range === null ? null : q.toString('utf8', range[0], range[1]));
          }
          rows.push(row);
        }
      }
    }
  };

  const client: RawMysql = {
    connectionId: g.connectionId,
    send(payload, seq = 0) {
      socket.write(framePacket(payload, seq));
    },
    sendRaw(bytes) {
      socket.write(bytes);
    },
    next,
    async query(sql) {
      client.send(Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from(sql, 'utf8')]));
      return readResult(false);
    },
    async prepare(sql) {
      client.send(Buffer.concat([Buffer.from([COM.STMT_PREPARE]), Buffer.from(sql, 'utf8')]));
      const p = await next();
      if (p.payload[0] === 0xff) return { error: decodeErr(p.payload, 0, p.payload.length) };
      const ok = decodePrepareOk(p.payload, 0, p.payload.length);
      if (ok.params) for (let i = 0; i <= ok.params; i++) await next();
      if (ok.columns) for (let i = 0; i <= ok.columns; i++) await next();
      return { id: ok.statementId, params: ok.params };
    },
    async execute(id, params = []) {
      const head = Buffer.alloc(10);
      head[0] = COM.STMT_EXECUTE;
      head.writeUInt32LE(id >>> 0, 1);
      head.writeUInt32LE(1, 6);
      const parts = [head];
      if (params.length) {
        parts.push(Buffer.alloc((params.length + 7) >> 3), Buffer.from([1]));
        for (let i = 0; i < params.length; i++) parts.push(Buffer.from([253, 0])); // VAR_STRING
        for (const v of params) {
          const b = Buffer.from(v, 'utf8');
          parts.push(Buffer.from([b.length]), b);
        }
      }
      client.send(Buffer.concat(parts));
      return readResult(true);
    },
    get closed() {
      return closed;
    },
    whenClosed: () => closing,
    close() {
      reader.detach();
      if (!closed) socket.end(framePacket(Buffer.from([COM.QUIT]), 0));
      socket.destroy();
    },
  };
  return client;
}
