// The ceiling of any HTTP proxy written in Node on this machine, for bench:http: node:http in
// front of the target, each request piped to it over a keep-alive agent and the answer piped
// back, nothing read, judged or recorded. Run as its own process:
// `node --import tsx bench/http-pipe.ts <port> <target port>`.
import { Agent, createServer, request } from 'node:http';

const [port, targetPort] = process.argv.slice(2).map(Number);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const server = createServer((req, res) => {
  const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
