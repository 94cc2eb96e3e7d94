// npx tsx bench/ssh-forward.ts — `ssh -N -L` to a private sshd directly and through Warden
// (embedded agent, strict recording, a rule allowing the forward), same run: the round trip of
// a new forwarded connection (connect, one byte echoed back: the median of BENCH_RUNS, default
// 30; through Warden each is judged and recorded) and BENCH_MB (default 200) MB from a TCP
// server on the target's side to the caller.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect, createServer } from 'node:net';
import { join } from 'node:path';
import { startTestGateway } from '../test/helpers/gateway.ts';
import { freePort } from '../test/helpers/free-port.ts';
import { askpass, sshArgs, startSshd } from '../test/helpers/sshd.ts';
import { bound } from '../test/helpers/tcp-probes.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const SIZE = Number(process.env.BENCH_MB ?? 200) * 1e6;

// a one-byte "ping" gets an echo; anything else gets SIZE bytes
const server = createServer((s) => {
  s.once('data', (b: Buffer) => {
    if (b.length === 1 && b[0] === 0x70) return void s.end(b);
    const chunk = Buffer.alloc(256 << 10, 97);
    let n = 0;
    const pump = () => {
      while (n < SIZE) {
        const part = n + chunk.length <= SIZE ? chunk : chunk.subarray(0, SIZE - n);
        n += part.length;
        if (!s.write(part)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  s.on('error', () => {});
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function exchange(lport: number, send: Buffer): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let bytes = 0;
    const s = tcpConnect(lport, '127.0.0.1', () => s.write(send));
    s.on('data', (b: Buffer) => (bytes += b.length));
    s.on('close', () => resolve({ ms: performance.now() - t0, bytes }));
  });
}

async function measure(args: string[], env: Record<string, string>): Promise<{ rtt: number; mbps: number }> {
  const lport = await freePort();
  const child: ChildProcess = spawn('ssh', [...args.slice(0, -1), '-N', '-L', `127.0.0.1:${lport}:127.0.0.1:${port}`, args.at(-1)!], { env: { ...process.env, ...env }, stdio: 'ignore' });
  try {
    while (!(await bound(lport))) await new Promise((r) => setTimeout(r, 50));
    const rtts: number[] = [];
    for (let i = 0; i < RUNS; i++) rtts.push((await exchange(lport, Buffer.from('p'))).ms);
    const bulk = await exchange(lport, Buffer.from('bulk'));
    if (bulk.bytes !== SIZE) throw new Error(`${bulk.bytes} of ${SIZE} bytes arrived`);
    return { rtt: median(rtts), mbps: SIZE / 1e6 / (bulk.ms / 1000) };
  } finally {
    child.kill();
  }
}

const sshd = await startSshd();
const t = await startTestGateway({
  connections: [{ name: 'box', type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['bench'] } }],
  rules: [{ name: 'bench-forward', match: { forwarding: { local: [`127.0.0.1:${port}`] } }, action: 'allow' }],
});
try {
  const token = await t.token(['bench'], 'bench');
  const direct = await measure(['-p', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-i', join(sshd.dir, 'client_ed25519'), `${sshd.user}@127.0.0.1`], {});
  const via = await measure([...sshArgs(t.sshPort), 'box@127.0.0.1'], askpass(sshd.dir, token));
  console.log('| measure | direct | via Warden |\n|---|---|---|');
  console.log(`| new forwarded connection, round trip (median ms) | ${direct.rtt.toFixed(1)} | ${via.rtt.toFixed(1)} (${(via.rtt / direct.rtt).toFixed(2)}x) |`);
  console.log(`| ${SIZE / 1e6} MB to the caller (MB/s) | ${direct.mbps.toFixed(0)} | ${via.mbps.toFixed(0)} (${(via.mbps / direct.mbps).toFixed(2)}x) |`);
} finally {
  await t.close();
  await sshd.close();
  server.close();
}
