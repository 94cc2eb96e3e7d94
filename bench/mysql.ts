// npm run bench:mysql — point selects (each with its own literal, like pgbench -S) against
// MariaDB directly, through a bare Node socket pipe (the ceiling of any Node proxy here),
// and through Warden with strict and async recording; 1 and 8 clients, all in the same
// run. Prints queries per second, the ratio to direct access, and the CPU time per query
// of the process in the middle (the pipe or the gateway, from /proc/<pid>/stat). The
// Postgres door of the same gateways runs pgbench -S in the same run: its CPU per query is
// the reference the MySQL door is held to (target: within 1.2x).
// Load: mysqlslap when installed, else bench/mysql-load.mjs (mysql2). BENCH_QUERIES sets the
// queries per client and run (default 10000), BENCH_SECONDS the pgbench runs (default 8),
// BENCH_CLIENTS and BENCH_RECORDING (strict,async) what is run. BENCH_WORKERS (default 1,2)
// adds rows with the MySQL door on that many data-plane worker threads (gateway.workers),
// their ratio read against the main thread's row of the same mode ("0" runs none).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, freePort, pgbench, ROOT, startGateway, type GatewayProcess } from './lib.ts';

const QUERIES = Number(process.env.BENCH_QUERIES ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,8').split(',').map(Number);
const RECORDING = (process.env.BENCH_RECORDING ?? 'strict,async').split(',') as ('strict' | 'async')[];
const DB = 'warden_bench_my';
const PG_DB = 'warden_bench_myref';
const MY = { host: '127.0.0.1', port: 3306, user: 'root' };
const ROWS = 100_000;

const mysqlRoot = (sql: string) => execFileSync('mysql', ['-h', MY.host, '-P', String(MY.port), '-u', MY.user, '-N', '-B', '-e', sql], { encoding: 'utf8' }).trim();

function ensureDatabases(): void {
  if (mysqlRoot(`SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DB}' AND TABLE_NAME = 'accounts'`) !== '1') {
    mysqlRoot(`CREATE DATABASE IF NOT EXISTS ${DB}; CREATE TABLE ${DB}.accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84)); INSERT INTO ${DB}.accounts SELECT seq, 1, 0, '' FROM mysql.seq_1_to_${ROWS}`);
  }
  const psql = (sql: string) => execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-tAc', sql], { encoding: 'utf8' }).trim();
  if (psql(`SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'`) !== '1') {
    psql(`CREATE DATABASE ${PG_DB}`);
    execFileSync('pgbench', ['-h', '127.0.0.1', '-U', 'postgres', '-i', '-s', '1', '-q', PG_DB], { stdio: 'ignore' });
  }
}

/** The statements each client runs: point selects of random accounts, one literal each. */
function queryFile(count = QUERIES): string {
  const file = join(mkdtempSync(join(tmpdir(), 'warden-bench-my-')), 'queries.sql');
  const qs: string[] = [];
  for (let i = 0; i < count; i++) qs.push(`SELECT abalance FROM accounts WHERE aid = ${1 + Math.floor(Math.random() * ROWS)}`);
  writeFileSync(file, qs.join(';'));
  return file;
}

const slap = ['/usr/bin/mysqlslap', '/usr/local/bin/mysqlslap'].find(existsSync);

/** Seconds the load took. */
function load(port: number, user: string, password: string, clients: number, file: string): number {
  const out = slap
    ? execFileSync(slap, ['-h', '127.0.0.1', '-P', String(port), '-u', user, `-p${password}`, '--skip-ssl', `--create-schema=${DB}`, '--no-drop', `--query=${file}`, '--delimiter=;', `--concurrency=${clients}`, '--iterations=1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    : execFileSync(process.execPath, [join(ROOT, 'bench/mysql-load.mjs'), String(port), user, password, DB, String(clients), file], { encoding: 'utf8' });
  const s = Number(/Average number of seconds to run all queries: ([\d.]+)/.exec(out)?.[1]);
  if (!(s > 0)) throw new Error(`no timing in the load generator's output: ${out}`);
  return s;
}

interface MyRow {
  target: string;
  clients: number;
  qps: number;
  /** CPU time of the process in the middle, microseconds per query (null: direct) */
  cpuUs: number | null;
}

async function startNodePipe(): Promise<{ port: number; pid: number; stop: () => void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bench/node-pipe.mjs'), String(port), MY.host, String(MY.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the node pipe exited with ${code}`)));
  });
  return { port, pid: child.pid!, stop: () => child.kill() };
}

ensureDatabases();
const file = queryFile();
const warmup = queryFile(2000);
const rows: MyRow[] = [];
const pgCpu = new Map<string, number>();

const measure = (target: string, port: number, user: string, password: string, pid: number | null) => {
  // warm up first (JIT, caches, lazy loads): the Postgres door is measured warm too
  load(port, user, password, 1, warmup);
  for (const clients of CLIENTS) {
    const before = pid === null ? 0 : cpuMs(pid);
    const seconds = load(port, user, password, clients, file);
    const queries = QUERIES * clients;
    const cpuUs = pid === null ? null : ((cpuMs(pid) - before) * 1000) / queries;
    rows.push({ target, clients, qps: queries / seconds, cpuUs });
    process.stderr.write(`  ${target}, ${clients} clients: ${(queries / seconds).toFixed(0)} queries/s${cpuUs === null ? '' : `, ${cpuUs.toFixed(0)} µs CPU per query`}\n`);
  }
};

/** pgbench -S through the gateway's Postgres door: CPU per transaction (one point select each). */
const measurePg = (gw: GatewayProcess, mode: string) => {
  pgbench({ host: '127.0.0.1', port: gw.pgPort, user: 'pgref', db: PG_DB, password: gw.token, mode: 'simple', clients: 1, seconds: 2 });
  for (const clients of CLIENTS) {
    const before = cpuMs(gw.pid);
    const r = pgbench({ host: '127.0.0.1', port: gw.pgPort, user: 'pgref', db: PG_DB, password: gw.token, mode: 'simple', clients, seconds: SECONDS });
    const cpuUs = ((cpuMs(gw.pid) - before) * 1000) / (r.tps * SECONDS);
    pgCpu.set(`${mode}/${clients}`, cpuUs);
    process.stderr.write(`  warden ${mode} postgres door (pgbench -S), ${clients} clients: ${r.tps.toFixed(0)} tps, ${cpuUs.toFixed(0)} µs CPU per query\n`);
  }
};

console.log(`point selects on ${ROWS} rows, ${QUERIES} queries per client and run, load by ${slap ? 'mysqlslap' : 'mysql2 (bench/mysql-load.mjs)'}, MariaDB on ${MY.host}:${MY.port}`);
measure('direct', MY.port, MY.user, '', null);
{
  const pipe = await startNodePipe();
  try {
    measure('bare node pipe', pipe.port, MY.user, '', pipe.pid);
  } finally {
    pipe.stop();
  }
}
const mysqlConnection = { name: 'bench', type: 'mysql', host: MY.host, port: MY.port, user: MY.user, database: DB, tls: false, access: { groups: ['bench'] } };
const pgConnection = { name: 'pgref', type: 'postgres', host: '127.0.0.1', port: 5432, user: 'postgres', database: PG_DB, tls: false, access: { groups: ['bench'] } };
for (const mode of RECORDING) {
  const gw = await startGateway({ connections: [mysqlConnection, pgConnection], mode, groups: ['bench'], mysql: true });
  try {
    measure(`warden ${mode}`, gw.mysqlPort, 'bench', gw.token, gw.pid);
    measurePg(gw, mode);
  } finally {
    await gw.stop();
  }
}

for (const workers of (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number).filter((n) => n > 0)) {
  for (const mode of RECORDING) {
    const gw = await startGateway({ connections: [mysqlConnection], mode, groups: ['bench'], mysql: true, workers });
    try {
      measure(`warden ${mode} on ${workers} worker${workers > 1 ? 's' : ''}`, gw.mysqlPort, 'bench', gw.token, gw.pid);
    } finally {
      await gw.stop();
    }
  }
}

const direct = new Map(rows.filter((r) => r.target === 'direct').map((r) => [r.clients, r.qps]));
const head = ['target', 'clients', 'queries/s', 'ratio to direct', 'CPU µs/query', 'CPU vs postgres door'];
const lines = rows.map((r) => {
  const mode = /^warden (strict|async)$/.exec(r.target)?.[1];
  const pg = mode ? pgCpu.get(`${mode}/${r.clients}`) : undefined;
  return [
    r.target, String(r.clients), r.qps.toFixed(0), r.target === 'direct' ? '1.00x' : `${(r.qps / direct.get(r.clients)!).toFixed(2)}x`,
    r.cpuUs === null ? '-' : r.cpuUs.toFixed(0), pg && r.cpuUs !== null ? `${(r.cpuUs / pg).toFixed(2)}x (${pg.toFixed(0)} µs)` : '-',
  ];
});
const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(fmt(head));
for (const l of lines) console.log(fmt(l));
// Workers against the main thread alone, same mode and clients, same run.
for (const r of rows) {
  const m = /^warden (strict|async) on (\d+) workers?$/.exec(r.target);
  const main = m && rows.find((x) => x.target === `warden ${m[1]}` && x.clients === r.clients);
  if (!m || !main || r.cpuUs === null || main.cpuUs === null) continue;
  console.log(`${r.target}, ${r.clients} clients / the main thread alone: ${(r.qps / main.qps).toFixed(2)}x queries/s, ${(r.cpuUs / main.cpuUs).toFixed(2)}x CPU per query`);
}
