// npm run bench:pg — pgbench -S against Postgres directly and through Warden in the
// same run (simple and extended protocol; 1 and 8 clients; strict and async
// recording; on 1 and 2 data-plane worker threads; two gateway processes sharing the
// load; through a remote agent process; a bare Node socket pipe, the ceiling of
// any Node proxy here; PgBouncer too when it is installed),
// printing TPS, latency and the ratio to direct access. BENCH_SECONDS sets the
// length of each run (default 8); every proxy gets BENCH_WARMUP_SECONDS (3) of load first.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, fdatasyncSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, pgbench, pgbenchAsync, startGateway, freePort, printRows, ROOT, type Row, type PgbenchResult } from './lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const DB = 'warden_bench';
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const MODES = (process.env.BENCH_MODES ?? 'simple,prepared').split(',');
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,8').split(',').map(Number);
// BENCH_TARGETS=pgbouncer,warden strict,...: run only the targets named (direct always runs).
const TARGETS = process.env.BENCH_TARGETS?.split(',').map((t) => t.trim());
const wanted = (target: string) => !TARGETS || TARGETS.includes(target);

/** The median time of one 4 KB write + fdatasync in the temp directory (where the gateways keep their data), ms. */
function measureFdatasync(): number {
  const file = join(mkdtempSync(join(tmpdir(), 'warden-bench-sync-')), 'probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const t = process.hrtime.bigint();
      writeSync(fd, block);
      fdatasyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    closeSync(fd);
  }
  return times.sort((a, b) => a - b)[times.length >> 1]!;
}

/**
 * Events of type command and durable flushes so far in a gateway's store. The events of
 * one flush (a journal record, src/audit/journal.ts) share its timestamp, so flushes are
 * the distinct timestamps of command events; two flushes in one ms count once.
 */
function auditCounts(dataDir: string): { commands: number; commits: number } {
  const db = new DatabaseSync(join(dataDir, 'warden.db'), { readOnly: true });
  try {
    const commands = Number((db.prepare("SELECT count(*) AS n FROM events WHERE type = 'command'").get() as { n: number }).n);
    const commits = Number((db.prepare("SELECT count(DISTINCT ts) AS n FROM events WHERE type = 'command'").get() as { n: number }).n);
    return { commands, commits };
  } finally {
    db.close();
  }
}

function ensureDatabase(): void {
  const psql = (sql: string) => execFileSync('psql', ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', 'postgres', '-tAc', sql], { encoding: 'utf8' }).trim();
  if (psql(`SELECT 1 FROM pg_database WHERE datname = '${DB}'`) !== '1') {
    psql(`CREATE DATABASE ${DB}`);
    execFileSync('pgbench', ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-i', '-s', '10', '-q', DB], { stdio: 'ignore' });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function startPgbouncer(): Promise<{ port: number; pid: number; stop: () => void } | null> {
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
  // pgbouncer refuses to run as root: run it as the postgres user, owner of its files.
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString()) : undefined;
  const gid = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString()) : undefined;
  if (asRoot) for (const f of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(dir, f), uid!, gid!);
  const child = spawn(bin, [join(dir, 'pgbouncer.ini')], { stdio: 'ignore', uid, gid });
  for (let i = 0; i < 50; i++) {
    if (await canConnect(port)) return { port, pid: child.pid!, stop: () => child.kill() };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  process.stderr.write(`pgbouncer did not start (see ${join(dir, 'log')}); skipping it\n`);
  return null;
}

/** bench/node-pipe.mjs as its own process: the ceiling of a Node proxy here. */
async function startNodePipe(): Promise<{ port: number; pid: number; stop: () => void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bench/node-pipe.mjs'), String(port), PG.host, String(PG.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the node pipe exited with ${code}`)));
  });
  return { port, pid: child.pid!, stop: () => child.kill() };
}

ensureDatabase();
const rows: Row[] = [];
const directs = new Map<string, PgbenchResult>();
// The masking case: each transaction returns a row with an email (masked) and text
// (scanned by every detector), where pgbench -S returns one int that masking skips.
const MASK_SCRIPT = join(mkdtempSync(join(tmpdir(), 'warden-bench-script-')), 'masked-row.sql');
writeFileSync(MASK_SCRIPT, "\\set aid random(1, 1000000)\nSELECT aid, 'user' || aid || '@example.com' AS email, filler FROM pgbench_accounts WHERE aid = :aid;\n");
const bouncers = new Map<string, PgbenchResult>();
/** `proxy`: the process whose CPU time counts (its pid), and the gateway's data dir for group commits. */
const run = (target: string, port: number, user: string, password?: string, script?: string, proxy?: { pid: number; dataDir?: string }) => {
  // A Node proxy runs its first few thousand queries in V8's lower tiers: at 1 client's
  // rate the first row would measure warm-up (3-5x the CPU per query), not the proxy.
  if (proxy) pgbench({ host: PG.host, port, user, db: DB, password, mode: 'prepared', clients: 8, seconds: WARMUP_SECONDS, script });
  for (const mode of script ? ['masked row'] : MODES) {
    for (const clients of CLIENTS) {
      const key = `${mode}/${clients}`;
      const cpu0 = proxy ? cpuMs(proxy.pid) : 0;
      const audit0 = proxy?.dataDir ? auditCounts(proxy.dataDir) : null;
      const result = pgbench({ host: PG.host, port, user, db: DB, password, mode: script ? 'simple' : mode, clients, seconds: SECONDS, script });
      const cpuUsPerQuery = proxy && result.transactions ? ((cpuMs(proxy.pid) - cpu0) * 1000) / result.transactions : undefined;
      let perCommit: number | undefined;
      if (audit0) {
        const a = auditCounts(proxy!.dataDir!);
        if (a.commits > audit0.commits) perCommit = (a.commands - audit0.commands) / (a.commits - audit0.commits);
      }
      if (target === 'direct') directs.set(key, result);
      if (target === 'pgbouncer') bouncers.set(key, result);
      rows.push({ target, mode, clients, result, direct: directs.get(key)!, bouncer: target === 'pgbouncer' ? undefined : bouncers.get(key), cpuUsPerQuery, perCommit });
      process.stderr.write(`  ${target} ${key}: ${result.tps.toFixed(0)} tps${cpuUsPerQuery === undefined ? '' : `, ${cpuUsPerQuery.toFixed(1)} µs CPU/query`}${perCommit === undefined ? '' : `, ${perCommit.toFixed(1)} commands/flush`}${result.failed ? ` (${result.failed} failed)` : ''}\n`);
    }
  }
};

/** run() over several proxies at once, the clients split evenly between them (bench user 'bench'). */
const runSplit = async (target: string, proxies: { port: number; password: string; pid: number; dataDir?: string }[]) => {
  const on = (f: (p: (typeof proxies)[number], i: number) => Promise<PgbenchResult>) => Promise.all(proxies.map(f));
  await on((p) => pgbenchAsync({ host: PG.host, port: p.port, user: 'bench', db: DB, password: p.password, mode: 'prepared', clients: 4, seconds: WARMUP_SECONDS }));
  for (const mode of MODES) {
    for (const clients of CLIENTS.filter((c) => c >= proxies.length)) {
      const key = `${mode}/${clients}`;
      const cpu0 = proxies.map((p) => cpuMs(p.pid));
      const audit0 = proxies.map((p) => (p.dataDir ? auditCounts(p.dataDir) : null));
      const each = Math.floor(clients / proxies.length);
      const results = await on((p, i) => pgbenchAsync({ host: PG.host, port: p.port, user: 'bench', db: DB, password: p.password, mode, clients: i === 0 ? clients - each * (proxies.length - 1) : each, seconds: SECONDS }));
      const transactions = results.reduce((n, r) => n + r.transactions, 0);
      const result: PgbenchResult = {
        tps: results.reduce((n, r) => n + r.tps, 0),
        latencyMs: results.reduce((n, r) => n + r.latencyMs * r.transactions, 0) / Math.max(transactions, 1),
        failed: results.reduce((n, r) => n + r.failed, 0),
        transactions,
      };
      const cpu = proxies.reduce((n, p, i) => n + cpuMs(p.pid) - cpu0[i]!, 0);
      const cpuUsPerQuery = transactions ? (cpu * 1000) / transactions : undefined;
      let commands = 0, commits = 0;
      proxies.forEach((p, i) => {
        if (!p.dataDir) return;
        const a = auditCounts(p.dataDir);
        commands += a.commands - audit0[i]!.commands;
        commits += a.commits - audit0[i]!.commits;
      });
      const perCommit = commits > 0 ? commands / commits : undefined;
      rows.push({ target, mode, clients, result, direct: directs.get(key)!, bouncer: bouncers.get(key), cpuUsPerQuery, perCommit });
      process.stderr.write(`  ${target} ${key}: ${result.tps.toFixed(0)} tps${cpuUsPerQuery === undefined ? '' : `, ${cpuUsPerQuery.toFixed(1)} µs CPU/query`}${result.failed ? ` (${result.failed} failed)` : ''}\n`);
    }
  }
};

const fdatasyncMs = measureFdatasync();
console.log(`pgbench -S, ${SECONDS}s per run, scale 10, on ${PG.host}:${PG.port}; one 4 KB write + fdatasync here: ${(fdatasyncMs * 1000).toFixed(0)} µs (median of 200)`);
run('direct', PG.port, PG.user);
if (wanted('warden async, masking on') || wanted('warden async, masking off')) run('direct', PG.port, PG.user, undefined, MASK_SCRIPT);
if (wanted('bare node pipe')) {
  const pipe = await startNodePipe();
  try {
    run('bare node pipe', pipe.port, PG.user, undefined, undefined, pipe);
  } finally {
    pipe.stop();
  }
}
const bouncer = wanted('pgbouncer') ? await startPgbouncer() : null;
if (bouncer) {
  run('pgbouncer', bouncer.port, PG.user, undefined, undefined, bouncer);
  bouncer.stop();
}
const connection = { name: 'bench', type: 'postgres', host: PG.host, port: PG.port, database: DB, user: PG.user, tls: false, access: { groups: ['bench'] } };
// BENCH_BEFORE=<another checkout, built>: its gateway runs too, as "warden <mode> (before)",
// for a before/after in one run.
const checkouts: [string, string | undefined][] = [['', undefined], ...(process.env.BENCH_BEFORE ? [[' (before)', process.env.BENCH_BEFORE] as [string, string]] : [])];
for (const mode of ['strict', 'async'] as const) {
  if (!wanted(`warden ${mode}`)) continue;
  for (const [suffix, root] of checkouts) {
    const gw = await startGateway({ connections: [connection], mode, groups: ['bench'], root });
    try {
      run(`warden ${mode}${suffix}`, gw.pgPort, 'bench', gw.token, undefined, { pid: gw.pid, dataDir: mode === 'strict' ? gw.dataDir : undefined });
    } finally {
      await gw.stop();
    }
  }
}
// Data-plane workers (gateway.workers): BENCH_WORKERS (default 1,2) worker threads take
// the Postgres connections, the main thread keeping admission and the audit log.
for (const workers of (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number).filter((n) => n > 0)) {
  for (const mode of ['strict', 'async'] as const) {
    const target = `warden ${mode} on ${workers} worker${workers > 1 ? 's' : ''}`;
    if (!wanted(target)) continue;
    const gw = await startGateway({ connections: [connection], mode, groups: ['bench'], workers });
    try {
      run(target, gw.pgPort, 'bench', gw.token, undefined, { pid: gw.pid, dataDir: mode === 'strict' ? gw.dataDir : undefined });
    } finally {
      await gw.stop();
    }
  }
}
// What two whole gateways carry here: two processes, each with its own store, and half
// the clients on each, run at once. TPS is their sum, CPU per query both processes' CPU
// over all transactions: what workers would carry if they shared nothing (no main thread
// between them and the log). Only rows with at least 2 clients.
for (const mode of ['strict', 'async'] as const) {
  const target = `warden ${mode} on 2 processes`;
  if (!wanted(target)) continue;
  const gws = [await startGateway({ connections: [connection], mode, groups: ['bench'] }), await startGateway({ connections: [connection], mode, groups: ['bench'] })];
  try {
    await runSplit(target, gws.map((g) => ({ port: g.pgPort, password: g.token, pid: g.pid, dataDir: mode === 'strict' ? g.dataDir : undefined })));
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
  }
}
// Masking on and off (async recording, so recording does not hide masking's cost), on
// rows that carry something to mask.
for (const masking of [true, false]) {
  if (!wanted(`warden async, masking ${masking ? 'on' : 'off'}`)) continue;
  const gw = await startGateway({ connections: [{ ...connection, masking: { enabled: masking } }], mode: 'async', groups: ['bench'] });
  try {
    run(`warden async, masking ${masking ? 'on' : 'off'}`, gw.pgPort, 'bench', gw.token, MASK_SCRIPT, { pid: gw.pid });
  } finally {
    await gw.stop();
  }
}
// Rules on: realistic guardrails (global and per connection), none of which matches
// pgbench's SELECT, so every statement is classified and tried against all of them and
// then allowed. Its ratio to "warden strict" (rules off) is the policy's cost (< 10%).
const GLOBAL_RULES = [
  { name: 'no-server-files', match: { functions: ['pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'lo_import', 'lo_export'] }, action: 'block', message: 'server file access is not allowed' },
  { name: 'no-backend-kills', match: { functions: ['pg_terminate_backend', 'pg_cancel_backend'] }, action: 'review' },
  { name: 'no-copy-program', match: { copyProgram: true }, action: 'block' },
  { name: 'no-role-changes', match: { kinds: ['grant', 'revoke', 'set_role'] }, action: 'block' },
];
const CONNECTION_RULES = [
  { name: 'bulk-writes', match: { noWhere: true }, action: 'review', review: { groups: ['dba'], approvals: 1, timeout: '15m' } },
  { name: 'schema-changes', match: { categories: ['ddl'] }, action: 'review', review: { groups: ['dba'], approvals: 2 } },
  { name: 'history-is-append-only', match: { tables: ['pgbench_history'], kinds: ['update', 'delete', 'truncate'] }, action: 'block' },
];
if (wanted('warden strict + rules')) {
  const gw = await startGateway({ connections: [{ ...connection, rules: CONNECTION_RULES }], mode: 'strict', groups: ['bench'], extra: { rules: GLOBAL_RULES } });
  try {
    run('warden strict + rules', gw.pgPort, 'bench', gw.token, undefined, { pid: gw.pid, dataDir: gw.dataDir });
  } finally {
    await gw.stop();
  }
}
// The remote-agent path: a strict gateway whose connection is reached through a
// `warden agent` process on this machine (gateway -> WebSocket tunnel -> agent -> Postgres).
// BENCH_AGENT_MODES=strict,async also measures the tunnel where fsync does not dominate.
for (const mode of (process.env.BENCH_AGENT_MODES ?? 'strict').split(',') as ('strict' | 'async')[]) {
  if (!wanted(`warden ${mode} via remote agent`)) continue;
  const gw = await startGateway({ connections: [{ ...connection, agent: 'bench-agent' }], mode, groups: ['bench', 'admin'] });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const agent = await startAgent(base, gw.token);
  try {
    run(`warden ${mode} via remote agent`, gw.pgPort, 'bench', gw.token, undefined, { pid: gw.pid, dataDir: mode === 'strict' ? gw.dataDir : undefined });
  } finally {
    agent.kill('SIGTERM');
    await gw.stop();
  }
}
printRows(rows);
console.log(`proxy CPU µs/query: the proxy process's CPU time (user + system, all its threads) over the run / transactions; fdatasync ${(fdatasyncMs * 1000).toFixed(0)} µs`);
for (const r of rows.filter((x) => x.cpuUsPerQuery !== undefined && x.target.startsWith('warden '))) {
  const b = rows.find((x) => x.target === 'pgbouncer' && x.mode === r.mode && x.clients === r.clients);
  if (b?.cpuUsPerQuery) console.log(`CPU per query / PgBouncer's (${r.target}), ${r.mode}, ${r.clients} clients: ${(r.cpuUsPerQuery! / b.cpuUsPerQuery).toFixed(2)}x`);
}
// The floor of any proxy first (PgBouncer, a Node pipe that inspects nothing), then the
// issue's targets: async <= 60 µs, strict <= one fdatasync + 60 µs.
for (const r of rows.filter((x) => x.clients === 1 && /^(pgbouncer|bare node pipe|warden (strict|async)( \(before\))?)$/.test(x.target))) {
  const target = r.target.startsWith('warden strict') ? ` (target <= ${(fdatasyncMs * 1000 + 60).toFixed(0)})` : r.target.startsWith('warden async') ? ' (target <= 60)' : '';
  console.log(`latency added over direct (${r.target}), ${r.mode}, 1 client: ${((r.result.latencyMs - r.direct.latencyMs) * 1000).toFixed(0)} µs${target}`);
}
for (const r of rows.filter((x) => / on (\d+ workers?|2 processes)$/.test(x.target))) {
  const one = rows.find((x) => x.target === r.target.replace(/ on .*$/, '') && x.mode === r.mode && x.clients === r.clients);
  if (one) console.log(`${r.target.replace(/^.* on /, '')} / main thread alone (${one.target}), ${r.mode}, ${r.clients} clients: TPS ${(r.result.tps / one.result.tps).toFixed(2)}x, CPU per query ${((r.cpuUsPerQuery ?? 0) / (one.cpuUsPerQuery ?? 1)).toFixed(2)}x`);
}
for (const r of rows.filter((x) => x.target === 'warden strict + rules')) {
  const off = rows.find((x) => x.target === 'warden strict' && x.mode === r.mode && x.clients === r.clients);
  if (off) console.log(`rules on / rules off (warden strict), ${r.mode}, ${r.clients} clients: ${(r.result.tps / off.result.tps).toFixed(2)}x`);
}
for (const r of rows.filter((x) => x.target === 'warden async, masking on')) {
  const off = rows.find((x) => x.target === 'warden async, masking off' && x.clients === r.clients);
  if (off) console.log(`masking on / masking off (warden async, masked row), ${r.clients} clients: ${(r.result.tps / off.result.tps).toFixed(2)}x`);
}
for (const r of rows.filter((x) => x.target.endsWith(' via remote agent'))) {
  const embeddedTarget = r.target.replace(' via remote agent', '');
  const embedded = rows.find((x) => x.target === embeddedTarget && x.mode === r.mode && x.clients === r.clients);
  if (embedded) console.log(`remote agent / embedded (${embeddedTarget}), ${r.mode}, ${r.clients} clients: ${(r.result.tps / embedded.result.tps).toFixed(2)}x`);
}

/** Create an agent token (the bench token is admin here) and run `warden agent` until it is connected. */
async function startAgent(base: string, adminToken: string) {
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const res = await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench-agent', groups: ['warden-agent'] }) });
  if (!res.ok) throw new Error(`cannot create the agent token: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  const child = spawn(process.execPath, [join(ROOT, 'bin/warden.js'), 'agent', '--gateway', base, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, WARDEN_AGENT_TOKEN: token } });
  for (let i = 0; i < 200; i++) {
    const list = (await (await fetch(`${base}/api/v1/agents`, { headers })).json()) as { name: string; status: string }[];
    if (list.some((a) => a.name === 'bench-agent' && a.status === 'connected')) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('the bench agent did not connect within 20 s');
}
