// npm run bench:pg-large — one SELECT of 1,000,000 customer-like rows (names, emails,
// card numbers, free text) directly and through Warden with masking on, reporting
// time, MB/s and the gateway's peak RSS (VmHWM): results stream with bounded memory. The
// peak is also split, sampled while the query runs: anonymous memory (heaps, buffers) and
// file pages (mostly the node binary's own code and data, shared with every node process).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startGateway } from './lib.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const SQL = `SELECT g AS id, 'Customer ' || g AS name, 'user' || g || '@example.com' AS email,
  '4242 4242 4242 4242' AS card, 'order ' || g || ' shipped to 10 Downing St' AS note
  FROM generate_series(1, ${ROWS}) g`;

function timed(port: number, user: string, password: string): Promise<{ seconds: number; bytes: number }> {
  const t0 = process.hrtime.bigint();
  const psql = spawn('psql', [`host=127.0.0.1 port=${port} user=${user} dbname=postgres sslmode=disable`, '-X', '-A', '-t', '-c', SQL], {
    env: { ...process.env, PGPASSWORD: password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let bytes = 0;
  psql.stdout.on('data', (d: Buffer) => (bytes += d.length));
  return new Promise((resolve, reject) =>
    psql.once('exit', (code) => (code === 0 ? resolve({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes }) : reject(new Error(`psql exited with ${code}`)))),
  );
}

/** The largest anonymous and file-backed resident sizes of `pid` seen while `work` runs, MB. */
async function sampledPeaks<T>(pid: number, work: Promise<T>): Promise<{ value: T; anon: number; file: number }> {
  let anon = 0;
  let file = 0;
  const sample = () => {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    anon = Math.max(anon, Number(/RssAnon:\s+(\d+) kB/.exec(s)?.[1] ?? 0) / 1024);
    file = Math.max(file, Number(/RssFile:\s+(\d+) kB/.exec(s)?.[1] ?? 0) / 1024);
  };
  const timer = setInterval(sample, 20);
  try {
    const value = await work;
    sample();
    return { value, anon, file };
  } finally {
    clearInterval(timer);
  }
}

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const direct = await timed(5432, 'postgres', '');
const gw = await startGateway({
  connections: [{ name: 'large', type: 'postgres', host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres', tls: false, access: { groups: ['bench'] } }],
  mode: 'strict',
  groups: ['bench'],
  // BENCH_MASKING=off measures the same path without masking, for comparison.
  extra: process.env.BENCH_MASKING === 'off' ? { masking: { enabled: false } } : undefined,
});
try {
  const before = peakRss(gw.pid);
  const { value: through, anon, file } = await sampledPeaks(gw.pid, timed(gw.pgPort, 'large', gw.token));
  const peak = peakRss(gw.pid);
  console.log(`${ROWS} rows, ${(direct.bytes / 1e6).toFixed(1)} MB of text output`);
  console.log(`direct            ${direct.seconds.toFixed(2)} s  ${(direct.bytes / 1e6 / direct.seconds).toFixed(1)} MB/s`);
  console.log(`warden${process.env.BENCH_MASKING === 'off' ? ' (no mask)' : ' + masking'}  ${through.seconds.toFixed(2)} s  ${(through.bytes / 1e6 / through.seconds).toFixed(1)} MB/s  ratio ${(direct.seconds / through.seconds).toFixed(2)}x`);
  console.log(`gateway peak RSS  ${peak.toFixed(0)} MB (at start ${before.toFixed(0)} MB)`);
  // what any node process maps of its own binary, for scale
  const bare = Number(execFileSync(process.execPath, ['-e', "process.stdout.write(/RssFile:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1])"], { encoding: 'utf8' })) / 1024;
  console.log(`  of it, sampled: anonymous ${anon.toFixed(0)} MB at most, file pages ${file.toFixed(0)} MB at most (mostly the node binary's code and data; a bare node process: ${bare.toFixed(0)} MB)`);
} finally {
  await gw.stop();
}
