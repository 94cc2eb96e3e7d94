// A bare Node TCP pipe to Postgres: no parsing, no recording. bench:pg runs it as the
// ceiling for any proxy written in Node on this machine (the issue's own reference).
// Usage: node bench/node-pipe.mjs <listen port> <target host> <target port>
import { createServer, connect } from 'node:net';

const [port, host, targetPort] = process.argv.slice(2);
createServer((client) => {
  const server = connect(Number(targetPort), host);
  client.setNoDelay(true);
  server.setNoDelay(true);
  client.pipe(server).on('error', () => client.destroy());
  server.pipe(client).on('error', () => server.destroy());
  client.on('error', () => server.destroy());
  server.on('error', () => client.destroy());
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
