// The load generator bench:mysql uses where mysqlslap is not installed: N connections
// (mysql2), each running the query file's statements one after another; prints the
// seconds it took. Usage: node bench/mysql-load.mjs <port> <user> <password> <db> <clients> <query file>
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';

const [port, user, password, database, clients, file] = process.argv.slice(2);
const queries = readFileSync(file, 'utf8').split(';').filter((q) => q.trim());
const conns = await Promise.all(Array.from({ length: Number(clients) }, () => mysql.createConnection({ host: '127.0.0.1', port: Number(port), user, password, database })));
const started = process.hrtime.bigint();
await Promise.all(conns.map(async (c) => {
  for (const q of queries) await c.query(q);
}));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await Promise.all(conns.map((c) => c.end()));
process.stdout.write(`Average number of seconds to run all queries: ${seconds.toFixed(3)} seconds\n`);
