// Shared pieces of the benchmarks: running pgbench, starting a gateway process, and
// printing results as ratios against direct access measured in the same run.
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export const ROOT = new URL('..', import.meta.url).pathname;

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  failed: number;
  /** transactions pgbench completed */
  transactions: number;
}

type PgbenchArgs = { host: string; port: number; user: string; db: string; password?: string; mode: string; clients: number; seconds: number; script?: string };

function pgbenchCommand(args: PgbenchArgs): { argv: string[]; env: NodeJS.ProcessEnv } {
  const what = args.script ? ['-f', args.script] : ['-S'];
  return {
    argv: ['-h', args.host, '-p', String(args.port), '-U', args.user, ...what, '-n', '-M', args.mode, '-c', String(args.clients), '-j', String(Math.min(args.clients, 2)), '-T', String(args.seconds), args.db],
    env: { ...process.env, PGPASSWORD: args.password ?? '', PGSSLMODE: 'disable' },
  };
}

function pgbenchResult(out: string): PgbenchResult {
  const tps = Number(/^tps = ([\d.]+)/m.exec(out)?.[1] ?? 0);
  const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? 0);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? 0);
  return { tps, latencyMs, failed, transactions };
}

/** pgbench -S, or the transaction in `script` (a pgbench script file) when given. */
export function pgbench(args: PgbenchArgs): PgbenchResult {
  const { argv, env } = pgbenchCommand(args);
  return pgbenchResult(execFileSync('pgbench', argv, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** pgbench as pgbench() runs it, without blocking: for several at once. */
export function pgbenchAsync(args: PgbenchArgs): Promise<PgbenchResult> {
  const { argv, env } = pgbenchCommand(args);
  return new Promise((resolve, reject) => {
    execFile('pgbench', argv, { env, encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(pgbenchResult(out))));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface GatewayProcess {
  pid: number;
  /** the gateway's data directory (its SQLite store is warden.db there) */
  dataDir: string;
  pgPort: number;
  /** the MySQL door's port when asked for (`mysql: true`) */
  mysqlPort: number;
  httpPort: number;
  /** the SSH door's port when asked for (`ssh: true`) */
  sshPort: number;
  token: string;
  stop(): Promise<void>;
}

/** Start `warden start` as its own process with the given connections and recording mode. */
/** `root`: the checkout whose bin/warden.js runs (default this one; another for a before/after in one run). */
/** `workers`: gateway.workers, data-plane worker threads (default none: the main thread serves). */
export async function startGateway(opts: { connections: Record<string, unknown>[]; mode: 'strict' | 'async'; groups: string[]; extra?: Record<string, unknown>; mysql?: boolean; ssh?: boolean; root?: string; workers?: number }): Promise<GatewayProcess> {
  const root = opts.root ?? ROOT;
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  const pgPort = await freePort();
  const httpPort = await freePort();
  const mysqlPort = opts.mysql ? await freePort() : 0;
  const sshPort = opts.ssh ? await freePort() : 0;
  const listen = { http: `127.0.0.1:${httpPort}`, postgres: `127.0.0.1:${pgPort}`, mysql: opts.mysql ? `127.0.0.1:${mysqlPort}` : null, ...(opts.ssh ? { ssh: `127.0.0.1:${sshPort}` } : {}) };
  const config = {
    gateway: { dataDir: join(dir, 'data'), listen, recording: { mode: opts.mode }, logLevel: 'warn', ...(opts.workers ? { workers: opts.workers } : {}) },
    connections: opts.connections,
    ...opts.extra,
  };
  const cfgFile = join(dir, 'warden.yaml');
  writeFileSync(cfgFile, JSON.stringify(config));
  const token = execFileSync(process.execPath, [join(root, 'bin/warden.js'), 'token', 'create', '--config', cfgFile, '--name', 'bench', '--groups', opts.groups.join(',')], { encoding: 'utf8' }).trim();
  // BENCH_NODE_FLAGS: flags for the gateway's node (--trace-gc, --cpu-prof, ...) when studying a run.
  const nodeFlags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, join(root, 'bin/warden.js'), 'start', '--config', cfgFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (nodeFlags.length) process.stderr.write(d); // what the flags asked node to print
      if (buf.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${buf}`)));
  });
  return {
    pid: child.pid!,
    dataDir: join(dir, 'data'),
    pgPort,
    mysqlPort,
    httpPort,
    sshPort,
    token,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

export interface Row {
  target: string;
  mode: string;
  clients: number;
  result: PgbenchResult;
  direct: PgbenchResult;
  /** the same mode and clients through PgBouncer, when it ran */
  bouncer?: PgbenchResult;
  /** CPU time of the proxy process (all its threads) per transaction, µs; undefined for direct */
  cpuUsPerQuery?: number;
  /** durable recording: commands per durable flush (a journal record), when known */
  perCommit?: number;
}

export function printRows(rows: Row[]): void {
  const head = ['target', 'protocol', 'clients', 'tps', 'avg latency ms', 'ratio to direct', 'to pgbouncer', 'proxy CPU µs/query', 'commands/flush'];
  const lines = rows.map((r) => [
    r.target,
    r.mode,
    String(r.clients),
    r.result.tps.toFixed(0),
    r.result.latencyMs.toFixed(3),
    r.target === 'direct' ? '1.00x' : `${(r.result.tps / r.direct.tps).toFixed(2)}x`,
    r.bouncer ? `${(r.result.tps / r.bouncer.tps).toFixed(2)}x` : '',
    r.cpuUsPerQuery === undefined ? '' : r.cpuUsPerQuery.toFixed(1),
    r.perCommit === undefined ? '' : r.perCommit.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
  return (ticks * 1000) / CLOCK_TICKS;
}

/** Resident memory of a process now (VmRSS), in MB (Linux /proc); NaN once it is gone. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = Number((() => {
  try {
    return execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
  } catch {
    return '100';
  }
})());
