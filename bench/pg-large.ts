// npm run bench:pg-large — one SELECT of 1,000,000 customer-like rows (names, emails,
// card numbers, free text) directly and through Warden with masking on, reporting
// time, MB/s and the gateway's peak RSS (VmHWM): results stream with bounded memory.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startGateway } from './lib.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const SQL = `SELECT g AS id, 'Customer ' || g AS name, 'user' || g || '@example.com' AS email,
  '4242 4242 4242 4242' AS card, 'order ' || g || ' shipped to 10 Downing St' AS note
  FROM generate_series(1, ${ROWS}) g`;

function timed(port: number, user: string, password: string): { seconds: number; bytes: number } {
  const t0 = process.hrtime.bigint();
  const out = execFileSync('psql', [`host=127.0.0.1 port=${port} user=${user} dbname=postgres sslmode=disable`, '-X', '-A', '-t', '-c', SQL], {
    env: { ...process.env, PGPASSWORD: password },
    maxBuffer: 1 << 30,
  });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes: out.length };
}

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const direct = timed(5432, 'postgres', '');
const gw = await startGateway({
  connections: [{ name: 'large', type: 'postgres', host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres', tls: false, access: { groups: ['bench'] } }],
  mode: 'strict',
  groups: ['bench'],
  // BENCH_MASKING=off measures the same path without masking, for comparison.
  extra: process.env.BENCH_MASKING === 'off' ? { masking: { enabled: false } } : undefined,
});
try {
  const before = peakRss(gw.pid);
  const through = timed(gw.pgPort, 'large', gw.token);
  const peak = peakRss(gw.pid);
  console.log(`${ROWS} rows, ${(direct.bytes / 1e6).toFixed(1)} MB of text output`);
  console.log(`direct            ${direct.seconds.toFixed(2)} s  ${(direct.bytes / 1e6 / direct.seconds).toFixed(1)} MB/s`);
  console.log(`warden${process.env.BENCH_MASKING === 'off' ? ' (no mask)' : ' + masking'}  ${through.seconds.toFixed(2)} s  ${(through.bytes / 1e6 / through.seconds).toFixed(1)} MB/s  ratio ${(direct.seconds / through.seconds).toFixed(2)}x`);
  console.log(`gateway peak RSS  ${peak.toFixed(0)} MB (at start ${before.toFixed(0)} MB)`);
} finally {
  await gw.stop();
}
