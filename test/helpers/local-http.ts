// A local HTTP server for a test: it keeps every request it got (method, url as sent, headers,
// body) and answers with what the test's handler returns, so a test can play a token endpoint
// or a target and then assert on ground truth: what actually arrived.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Answer {
  status?: number;
  json?: unknown;
  /** wait this long before answering (to let concurrent callers pile up) */
  delayMs?: number;
}

export interface LocalHttp {
  url: string;
  seen: Received[];
  close(): Promise<void>;
}

export async function startLocalHttp(handle: (r: Received) => Answer | Promise<Answer>): Promise<LocalHttp> {
  const seen: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(r);
      void Promise.resolve()
        .then(() => handle(r))
        .then(async (a) => {
          if (a.delayMs) await new Promise((ok) => setTimeout(ok, a.delayMs));
          const text = JSON.stringify(a.json ?? {});
          res.writeHead(a.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        })
        .catch((e: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'test_handler_failed', message: e.message }));
        });
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}
