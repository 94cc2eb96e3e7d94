// npm run bench:pg — pgbench -S against Postgres directly and through Warden in the
// same run (simple and extended protocol; 1 and 8 clients; strict and async
// recording; PgBouncer too when it is installed), printing TPS, latency and the
// ratio to direct access. BENCH_SECONDS sets the length of each run (default 8).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgbench, startGateway, freePort, printRows, type Row, type PgbenchResult } from './lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const DB = 'warden_bench';
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const MODES = (process.env.BENCH_MODES ?? 'simple,prepared').split(',');
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,8').split(',').map(Number);

function ensureDatabase(): void {
  const psql = (sql: string) => execFileSync('psql', ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', 'postgres', '-tAc', sql], { encoding: 'utf8' }).trim();
  if (psql(`SELECT 1 FROM pg_database WHERE datname = '${DB}'`) !== '1') {
    psql(`CREATE DATABASE ${DB}`);
    execFileSync('pgbench', ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-i', '-s', '10', '-q', DB], { stdio: 'ignore' });
  }
}

async function startPgbouncer(): Promise<{ port: number; stop: () => void } | null> {
  const bin = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find(existsSync);
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), 'warden-pgbouncer-'));
  const port = await freePort();
  writeFileSync(join(dir, 'users.txt'), `"${PG.user}" ""\n`);
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]', `${DB} = host=${PG.host} port=${PG.port} dbname=${DB}`,
    '[pgbouncer]', `listen_addr = 127.0.0.1`, `listen_port = ${port}`, 'auth_type = trust', `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = session', 'max_client_conn = 100', 'default_pool_size = 20', `unix_socket_dir = ${dir}`, `logfile = ${join(dir, 'log')}`,
  ].join('\n'));
  const child = spawn(bin, [join(dir, 'pgbouncer.ini')], { stdio: 'ignore', uid: process.getuid?.() === 0 ? Number(execFileSync('id', ['-u', 'postgres']).toString()) : undefined });
  await new Promise((r) => setTimeout(r, 500));
  return { port, stop: () => child.kill() };
}

ensureDatabase();
const rows: Row[] = [];
const directs = new Map<string, PgbenchResult>();
const run = (target: string, port: number, user: string, password?: string) => {
  for (const mode of MODES) {
    for (const clients of CLIENTS) {
      const key = `${mode}/${clients}`;
      const result = pgbench({ host: PG.host, port, user, db: DB, password, mode, clients, seconds: SECONDS });
      if (target === 'direct') directs.set(key, result);
      rows.push({ target, mode, clients, result, direct: directs.get(key)! });
      process.stderr.write(`  ${target} ${key}: ${result.tps.toFixed(0)} tps${result.failed ? ` (${result.failed} failed)` : ''}\n`);
    }
  }
};

console.log(`pgbench -S, ${SECONDS}s per run, scale 10, on ${PG.host}:${PG.port}`);
run('direct', PG.port, PG.user);
const bouncer = await startPgbouncer();
if (bouncer) {
  run('pgbouncer', bouncer.port, PG.user);
  bouncer.stop();
}
const connection = { name: 'bench', type: 'postgres', host: PG.host, port: PG.port, database: DB, user: PG.user, tls: false, access: { groups: ['bench'] } };
for (const mode of ['strict', 'async'] as const) {
  const gw = await startGateway({ connections: [connection], mode, groups: ['bench'] });
  try {
    run(`warden ${mode}`, gw.pgPort, 'bench', gw.token);
  } finally {
    await gw.stop();
  }
}
printRows(rows);
