// A raw Postgres wire client for attack tests: it sends exactly the frames a test
// writes (messages a driver never sends, in orders a driver never uses) and returns
// the server's answers decoded, so a test can assert what came back at the wire level.
import net from 'node:net';
import { HandshakeReader } from '../../src/protocols/postgres/handshake-reader.ts';
import {
  decodeBackend,
  encodeFrontend,
  encodeStartup,
  PROTOCOL_3,
  type BackendMessage,
  type FrontendMessage,
} from '../../src/protocols/postgres/messages.ts';

export interface RawPg {
  /** write frames as they are (one write: the gateway sees them as one batch) */
  send(...messages: (FrontendMessage | Buffer)[]): void;
  /** read answers until `count` ReadyForQuery messages came (default 1); all answers in order */
  untilReady(count?: number, timeoutMs?: number): Promise<BackendMessage[]>;
  /** read the next `n` messages */
  next(n?: number, timeoutMs?: number): Promise<BackendMessage[]>;
  /** send frames and read until as many ReadyForQuery as Sync/Query/FunctionCall frames were sent */
  roundTrip(...messages: FrontendMessage[]): Promise<BackendMessage[]>;
  /** true once the gateway closed the connection */
  readonly closed: boolean;
  close(): void;
}

/** Connect as a native client would (user = connection, password = token), with no TLS. */
export async function rawConnect(port: number, user: string, token: string, params: Record<string, string> = {}): Promise<RawPg> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  let closed = false;
  socket.on('close', () => (closed = true));
  const reader = new HandshakeReader(socket, 64 << 20);
  socket.write(encodeStartup({ type: 'Startup', protocol: PROTOCOL_3, params: { user, database: user, ...params } }));
  for (;;) {
    const m = await reader.message(true);
    const msg = decodeBackend(m.type, m.payload, 0, m.payload.length);
    if (msg.type === 'Authentication' && msg.code === 3) socket.write(encodeFrontend({ type: 'Password', data: Buffer.from(`${token}\0`) }));
    else if (msg.type === 'ErrorResponse') throw new Error(`refused: ${msg.fields.M}`);
    else if (msg.type === 'ReadyForQuery') break;
  }

  const read = async (timeoutMs: number): Promise<BackendMessage> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the gateway within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const m = await Promise.race([reader.message(true), late]);
      return decodeBackend(m.type, m.payload, 0, m.payload.length);
    } finally {
      clearTimeout(timer);
    }
  };

  const client: RawPg = {
    send(...messages) {
      socket.write(Buffer.concat(messages.map((m) => (Buffer.isBuffer(m) ? m : encodeFrontend(m)))));
    },
    async untilReady(count = 1, timeoutMs = 10_000) {
      const out: BackendMessage[] = [];
      let ready = 0;
      while (ready < count) {
        const m = await read(timeoutMs);
        out.push(m);
        if (m.type === 'ReadyForQuery') ready++;
      }
      return out;
    },
    async next(n = 1, timeoutMs = 10_000) {
      const out: BackendMessage[] = [];
      for (let i = 0; i < n; i++) out.push(await read(timeoutMs));
      return out;
    },
    async roundTrip(...messages) {
      client.send(...messages);
      const readies = messages.filter((m) => m.type === 'Sync' || m.type === 'Query' || m.type === 'FunctionCall').length;
      return client.untilReady(readies);
    },
    get closed() {
      return closed;
    },
    close() {
      reader.detach();
      socket.end(encodeFrontend({ type: 'Terminate' }));
      socket.destroy();
    },
  };
  return client;
}

/** Error messages among the answers (`M` fields). */
export const errorsOf = (answers: BackendMessage[]): string[] =>
  answers.flatMap((m) => (m.type === 'ErrorResponse' ? [m.fields.M ?? ''] : []));

/** DataRow values among the answers, as text (binary values as latin1). */
export const rowsOf = (answers: BackendMessage[]): (string | null)[][] =>
  answers.flatMap((m) => (m.type === 'DataRow' ? [m.values.map((v) => (v === null ? null : v.toString('latin1')))] : []));

/** CommandComplete tags among the answers. */
export const tagsOf = (answers: BackendMessage[]): string[] => answers.flatMap((m) => (m.type === 'CommandComplete' ? [m.tag] : []));

/**
 * The 16 bytes any client sends on a new connection to cancel, with the key the gateway
 * gave a pg driver's connection `c`; resolves once the gateway closed that connection.
 */
export async function sendCancelRequest(port: number, c: unknown): Promise<void> {
  const keys = c as { processID: number; secretKey: number };
  const cancel = Buffer.alloc(16);
  cancel.writeInt32BE(16, 0);
  cancel.writeInt32BE(80877102, 4);
  cancel.writeInt32BE(keys.processID, 8);
  cancel.writeInt32BE(keys.secretKey, 12);
  const s = net.connect(port, '127.0.0.1', () => s.end(cancel));
  s.on('error', () => {});
  await new Promise((resolve) => s.once('close', resolve));
}
