// The target of bench:http, run as its own process (`node --import tsx bench/http-upstream.ts
// <port>`), so neither the load generator nor the gateway shares its event loop:
//   POST /v1/messages  a small Anthropic-shaped JSON answer with an email in its text (what
//                      masking must find), or, with "stream":true, server-sent events: the
//                      first at once, the rest 1 ms apart, as an LLM streams
//   POST /sink         reads the body, answers {"bytes", "sha256"} of what arrived
//   GET  /source?bytes=N&seed=S   N bytes of bodyBlocks (http-body.ts), application/octet-stream
import { createServer, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { bodyBlocks } from './http-body.ts';

const SECRET = 'grace.split@example.org';
const TEXT = `Your account is registered to ${SECRET}; nothing else changed.`;
const MESSAGE = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-bench', content: [{ type: 'text', text: TEXT }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 12, output_tokens: 14 } });

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const pieces = [TEXT.slice(0, 30), TEXT.slice(30, 42), TEXT.slice(42)]; // the email cut across deltas
  const events: [string, unknown][] = [
    ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-bench', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 0 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ...pieces.map((t): [string, unknown] => ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }]),
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 14 } }],
    ['message_stop', { type: 'message_stop' }],
  ];
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i >= events.length) return void res.end();
    const [name, data] = events[i++]!;
    res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    setTimeout(next, 1);
  };
  next();
}

function source(res: ServerResponse, bytes: number, seed: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
  const blocks = bodyBlocks(bytes, seed);
  const pump = () => {
    for (let b = blocks.next(); !b.done; b = blocks.next()) if (!res.write(b.value)) return void res.once('drain', pump);
    res.end();
  };
  pump();
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://upstream');
  if (req.method === 'GET' && url.pathname === '/source') return source(res, Number(url.searchParams.get('bytes')), Number(url.searchParams.get('seed') ?? 0));
  if (req.method === 'POST' && url.pathname === '/sink') {
    const h = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => (h.update(c), (bytes += c.length)));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, sha256: h.digest('hex') }));
    });
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    if (req.method !== 'POST' || url.pathname !== '/v1/messages') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end('{"type":"error","error":{"type":"not_found_error","message":"no such endpoint"}}');
    }
    if (body.includes('"stream":true')) return sse(res);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(MESSAGE) });
    res.end(MESSAGE);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
