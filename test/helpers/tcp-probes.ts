// TCP probes for forwarding tests: a server that counts what reaches it (the ground truth of a
// refused forward: nothing), whether a port is bound without connecting to it, one exchange of
// bytes over a connection, and a SOCKS5 CONNECT (what `ssh -D` serves).
import { connect as tcpConnect, createServer, type Server } from 'node:net';

/** a TCP server on 127.0.0.1 that counts what reaches it; `echo` sends every byte back */
export interface Counted {
  port: number;
  connections: number;
  bytes: number;
  server: Server;
}
export async function countingServer(echo: boolean): Promise<Counted> {
  const c: Counted = { port: 0, connections: 0, bytes: 0, server: createServer() };
  c.server.on('connection', (s) => {
    c.connections++;
    s.on('data', (b) => {
      c.bytes += b.length;
      if (echo) s.write(b);
    });
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  await new Promise<void>((r) => c.server.listen(0, '127.0.0.1', r));
  c.port = (c.server.address() as { port: number }).port;
  return c;
}

/** whether something listens on 127.0.0.1:port (binding it fails), without connecting to it */
export function bound(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/** connect to 127.0.0.1:port, send `data`, half-close, collect what comes back until the peer closes */
export function exchange(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const s = tcpConnect(port, '127.0.0.1', () => s.end(data));
    s.on('data', (b: Buffer) => parts.push(b));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(parts)));
  });
}

/** a SOCKS5 CONNECT to 127.0.0.1:port through ssh -D's proxy, then `data` and its echo; null when the proxy refuses */
export function socks(proxy: number, port: number, data: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = tcpConnect(proxy, '127.0.0.1', () => s.write(Buffer.from([5, 1, 0])));
    let stage = 0;
    let buf = Buffer.alloc(0);
    s.on('error', () => resolve(null));
    s.on('close', () => resolve(stage === 2 ? buf : null));
    s.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        const req = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 255]);
        s.write(req);
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) return s.destroy();
        buf = buf.subarray(10);
        stage = 2;
        s.end(data);
      }
    });
  });
}
