// A local WebSocket target for the proxy's tests (the `ws` server, a real handshake): it keeps
// each upgrade request it got (headers, path) and each message and close it saw, so tests can
// assert what reached the target. It echoes messages; text commands make it speak first:
// `secret` sends a line with an email, `close <code> <reason>` closes with that code; on /greet
// it speaks first. It
// chooses the subprotocol `chat.v2` when offered, and refuses a handshake on /refuse (403).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { WebSocketServer, type WebSocket } from 'ws';

export interface WsTarget {
  url: string;
  upgrades: { url: string; headers: IncomingHttpHeaders }[];
  /** every message the target got, in order */
  messages: { text: string | null; bytes: number }[];
  /** close codes the target got from the gateway */
  closes: { code: number; reason: string }[];
  /** the socket of the latest connection */
  last(): WebSocket | null;
  close(): Promise<void>;
}

/** `tls`: serve wss:// with this certificate (the url is then https://localhost:port). */
export async function startWsTarget(opts: { tls?: { cert: string; key: string } } = {}): Promise<WsTarget> {
  const upgrades: WsTarget['upgrades'] = [];
  const messages: WsTarget['messages'] = [];
  const closes: WsTarget['closes'] = [];
  let latest: WebSocket | null = null;
  const refuse = (_req: unknown, res: import('node:http').ServerResponse) => void res.writeHead(426).end();
  const server: Server = opts.tls ? createTlsServer(opts.tls, refuse) : createServer(refuse);
  const wss = new WebSocketServer({
    server,
    handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false),
    verifyClient: (info, done) => {
      upgrades.push({ url: info.req.url ?? '', headers: info.req.headers });
      if (info.req.url?.startsWith('/refuse')) return done(false, 403, 'not here');
      done(true);
    },
  });
  wss.on('connection', (ws, req) => {
    latest = ws;
    // speaks first, in the same write as its 101 answer (as a service greeting its client does)
    if (req.url?.startsWith('/greet')) ws.send('hello, I am grace.hopper@example.org');
    ws.on('message', (data: Buffer, binary) => {
      messages.push({ text: binary ? null : data.toString('utf8'), bytes: data.length });
      if (binary) return ws.send(data, { binary: true });
      const text = data.toString('utf8');
      const close = /^close (\d+) ?(.*)$/.exec(text);
      if (close) return ws.close(Number(close[1]), close[2]);
      if (text === 'secret') return ws.send('please write to grace.hopper@example.org today');
      ws.send(`echo: ${text}`);
    });
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: opts.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    upgrades, messages, closes,
    last: () => latest,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
