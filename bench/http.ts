// npm run bench:http — small JSON requests (an Anthropic-shaped POST /v1/messages whose answer
// carries an email to mask) directly against a local target, through a bare node:http proxy
// (the ceiling of any Node proxy here) and through Warden (strict and async recording, masking
// on, bodies recorded), all in the same run:
//   throughput   autocannon, BENCH_CONNECTIONS (8) connections for BENCH_SECONDS (5) each:
//                req/s, the ratio to direct, p50/p99, CPU µs per request of the process in the middle
//   sequential   one keep-alive connection per target, BENCH_REQUESTS (2000) rounds taking one
//                request from each target in turn: p50/p99 and what the middle adds
//   sse          time to the first server-sent event of a streamed answer, BENCH_SSE (300) rounds
//   big          an upload and a download of BENCH_BIG_MB (1024) MiB, checked by sha256 at the far
//                end, with the middle process's RSS sampled every 20 ms while it streams
// The target (bench/http-upstream.ts) and the pipe (bench/http-pipe.ts) are processes of their own.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { cpuMs, freePort, rssMb, ROOT, startGateway, type GatewayProcess } from './lib.ts';
import { download, interleaved, percentile, timed, upload, type Target } from './http-client.ts';
import { bodyHash } from './http-body.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const SSE_ROUNDS = Number(process.env.BENCH_SSE ?? 300);
const BIG = Number(process.env.BENCH_BIG_MB ?? 1024) * 1024 * 1024;
const RECORDING = (process.env.BENCH_RECORDING ?? 'strict,async').split(',') as ('strict' | 'async')[];
// BENCH_BASE: another checkout (built) whose gateways run beside these ones: a before/after of a
// change measured in the same run, on the same loaded machine.
const BASE = process.env.BENCH_BASE;
// BENCH_PHASES picks what runs (when profiling one of them with BENCH_NODE_FLAGS=--cpu-prof).
const PHASES = (process.env.BENCH_PHASES ?? 'throughput,sequential,sse,big').split(',');
const ASK = JSON.stringify({ model: 'claude-bench', max_tokens: 64, messages: [{ role: 'user', content: 'Which email is on my account?' }] });
const ASK_STREAM = JSON.stringify({ model: 'claude-bench', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Which email is on my account?' }] });
const SECRET = 'grace.split@example.org';

/** A bench process (`node --import tsx bench/<file> <args>`) that prints "ready" once listening. */
async function startProcess(file: string, args: number[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', file), ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return child;
}

const upstreamPort = await freePort();
const upstream = await startProcess('http-upstream.ts', [upstreamPort]);
const pipePort = await freePort();
const pipe = await startProcess('http-pipe.ts', [pipePort, upstreamPort]);
const gateways: GatewayProcess[] = [];
const targets: Target[] = [
  { name: 'direct', base: `http://127.0.0.1:${upstreamPort}`, headers: { 'x-api-key': 'upstream-key' }, pid: null },
  { name: 'bare node:http proxy', base: `http://127.0.0.1:${pipePort}`, headers: { 'x-api-key': 'upstream-key' }, pid: pipe.pid! },
];
const connection = {
  name: 'llm', type: 'http', url: `http://127.0.0.1:${upstreamPort}`,
  credential: { header: 'x-api-key', value: 'upstream-key' },
  masking: { enabled: true }, access: { groups: ['bench'] },
};
/** Every target answers; through Warden the email is masked (or the figures mean nothing). */
async function check(): Promise<void> {
  for (const t of targets) {
    const json = await timed(t, 'POST', '/v1/messages', ASK);
    const stream = await timed(t, 'POST', '/v1/messages', ASK_STREAM);
    const masked = t.name.startsWith('warden');
    for (const r of [json, stream]) {
      if (r.status !== 200) throw new Error(`${t.name}: status ${r.status}: ${r.text.slice(0, 300)}`);
      if (answerText(r.text).includes(SECRET) === masked) throw new Error(`${t.name}: the email is ${masked ? 'not masked' : 'missing'}: ${r.text.slice(0, 300)}`);
    }
  }
}

/** The text of an answer: the JSON message's, or its stream's text deltas joined. */
function answerText(body: string): string {
  if (!body.startsWith('event:')) return (JSON.parse(body) as { content: { text: string }[] }).content[0]!.text;
  const data = body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { delta?: { text?: string } });
  return data.map((d) => d.delta?.text ?? '').join('');
}

function table(head: string[], lines: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

const cpuUs = (pid: number | null, beforeMs: number, requests: number) => (pid === null ? '-' : (((cpuMs(pid) - beforeMs) * 1000) / requests).toFixed(0));
const cpuNow = (pid: number | null) => (pid === null ? 0 : cpuMs(pid));

async function throughput(): Promise<void> {
  const lines: string[][] = [];
  let direct = 0;
  for (const t of targets) {
    const run = (duration: number) => autocannon({ url: `${t.base}/v1/messages`, method: 'POST', headers: { ...t.headers, 'content-type': 'application/json' }, body: ASK, connections: CONNECTIONS, duration });
    await run(1); // warm up (JIT, lazy loads)
    const before = cpuNow(t.pid);
    const r = await run(SECONDS);
    const cpu = cpuUs(t.pid, before, r.requests.total);
    if (r.errors || r.non2xx) throw new Error(`${t.name}: ${r.errors} errors, ${r.non2xx} non-2xx answers under load`);
    const rps = r.requests.total / r.duration;
    if (t.name === 'direct') direct = rps;
    process.stderr.write(`  ${t.name}: ${rps.toFixed(0)} req/s\n`);
    lines.push([t.name, rps.toFixed(0), `${(rps / direct).toFixed(2)}x`, String(r.latency.p50), String(r.latency.p99), cpu]);
  }
  console.log(`\nthroughput: autocannon, ${CONNECTIONS} connections, ${SECONDS} s each`);
  table(['target', 'req/s', 'ratio to direct', 'p50 ms', 'p99 ms', 'CPU µs/req'], lines);
}

async function sequential(): Promise<void> {
  const before = targets.map((t) => cpuNow(t.pid));
  const got = await interleaved(targets, REQUESTS, 200, (t) => timed(t, 'POST', '/v1/messages', ASK));
  const ms = (t: Target) => got.get(t.name)!.map((r) => r.ms);
  const d = ms(targets[0]!);
  console.log(`\nsequential: 1 keep-alive connection each, ${REQUESTS} rounds of one request per target in turn`);
  table(['target', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'CPU µs/req'], targets.map((t, i) => {
    const x = ms(t);
    return [t.name, percentile(x, 50).toFixed(3), percentile(x, 99).toFixed(3), (percentile(x, 50) - percentile(d, 50)).toFixed(3), (percentile(x, 99) - percentile(d, 99)).toFixed(3), cpuUs(t.pid, before[i]!, REQUESTS + 200)];
  }));
}

async function firstEvent(): Promise<void> {
  const got = await interleaved(targets, SSE_ROUNDS, 20, (t) => timed(t, 'POST', '/v1/messages', ASK_STREAM));
  const first = (t: Target) => got.get(t.name)!.map((r) => r.firstEventMs);
  const whole = (t: Target) => got.get(t.name)!.map((r) => r.ms);
  const d = percentile(first(targets[0]!), 50);
  console.log(`\nfirst server-sent event: ${SSE_ROUNDS} streamed answers per target, in turn (events 1 ms apart)`);
  table(['target', 'first event p50 ms', 'added p50 ms', 'first event p99 ms', 'whole stream p50 ms'], targets.map((t) => [
    t.name, percentile(first(t), 50).toFixed(3), (percentile(first(t), 50) - d).toFixed(3), percentile(first(t), 99).toFixed(3), percentile(whole(t), 50).toFixed(3),
  ]));
}

async function bigBodies(): Promise<void> {
  const want = bodyHash(BIG, 1);
  const wantDown = bodyHash(BIG, 2);
  const lines: string[][] = [];
  const direct: Record<string, number> = {};
  for (const t of targets) {
    for (const [kind, go, hash] of [['upload', upload, want], ['download', download, wantDown]] as const) {
      const start = t.pid === null ? NaN : rssMb(t.pid);
      let peak = start;
      const sampler = setInterval(() => (peak = Math.max(peak, t.pid === null ? NaN : rssMb(t.pid))), 20);
      const r = await go(t, BIG, kind === 'upload' ? 1 : 2);
      clearInterval(sampler);
      const intact = r.status === 200 && r.bytes === BIG && r.sha256 === hash;
      const mbs = BIG / 1024 / 1024 / r.seconds;
      if (t.name === 'direct') direct[kind] = mbs;
      process.stderr.write(`  ${t.name} ${kind}: ${mbs.toFixed(0)} MiB/s${intact ? '' : ' NOT INTACT'}\n`);
      lines.push([t.name, kind, mbs.toFixed(0), `${(mbs / direct[kind]!).toFixed(2)}x`, Number.isNaN(start) ? '-' : start.toFixed(0), Number.isNaN(peak) ? '-' : peak.toFixed(0), intact ? 'yes' : `NO (${r.status}, ${r.bytes} bytes)`]);
    }
  }
  console.log(`\n${BIG / 1024 / 1024} MiB bodies (application/octet-stream), sha256 checked at the far end; RSS of the process in the middle sampled every 20 ms`);
  table(['target', 'body', 'MiB/s', 'ratio to direct', 'RSS before MB', 'RSS peak MB', 'intact'], lines);
}

try {
  for (const mode of RECORDING) {
    for (const root of BASE ? [BASE, undefined] : [undefined]) {
      const gw = await startGateway({ connections: [connection], mode, groups: ['bench'], root });
      gateways.push(gw);
      targets.push({ name: `warden ${mode}${root ? ' (base)' : ''}`, base: `http://127.0.0.1:${gw.httpPort}/proxy/llm`, headers: { 'x-api-key': gw.token }, pid: gw.pid });
    }
  }
  await check();
  console.log('bench:http — small JSON POST /v1/messages whose answer holds an email; through Warden: masking on, bodies recorded');
  const phases: Record<string, () => Promise<void>> = { throughput, sequential, sse: firstEvent, big: bigBodies };
  for (const p of PHASES) await phases[p]!();
} finally {
  for (const gw of gateways) await gw.stop();
  pipe.kill();
  upstream.kill();
}
