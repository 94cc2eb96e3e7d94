// npm run bench:ssh — OpenSSH's ssh to a private sshd directly and through Warden (embedded
// agent, strict recording), same run: the round trip of an exec (`ssh host true`, a new
// connection each time: the median of BENCH_RUNS, default 15) and 100 MB of text output
// streamed to the caller (`yes | head -c 100M`), with masking on and off; a file of as many
// MB uploaded and downloaded with `sftp -b` and legacy `scp -O` (each file recorded with its
// sha256 via Warden). Keystroke latency in a shell is not measured yet.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway } from '../test/helpers/gateway.ts';
import { askpass, sshArgs, startSshd } from '../test/helpers/sshd.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const MB = Number(process.env.BENCH_MB ?? 100);

function timed(args: string[], env: Record<string, string> = {}, program = 'ssh'): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b));
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`ssh exited ${code}: ${err}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const sshd = await startSshd();
const conn = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['bench'] }, ...extra });
const t = await startTestGateway({ connections: [conn('box'), conn('raw', { masking: { enabled: false } })] });
try {
  const token = await t.token(['bench'], 'bench');
  const env = askpass(sshd.dir, token);
  const direct = (cmd: string) => timed(['-p', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-i', join(sshd.dir, 'client_ed25519'), `${sshd.user}@127.0.0.1`, cmd]);
  const via = (user: string, cmd: string) => timed([...sshArgs(t.sshPort), `${user}@127.0.0.1`, cmd], env);
  const rows: [string, string, string][] = [];
  const d: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    d.push(await direct('true'));
    w.push(await via('box', 'true'));
  }
  rows.push(['exec round trip (median ms)', median(d).toFixed(0), `${median(w).toFixed(0)} (${(median(w) / median(d)).toFixed(2)}x)`]);
  const stream = `yes 'warden bench line of terminal output 0123456789' | head -c ${MB}000000`;
  const sd = await direct(stream);
  const sOn = await via('box', stream);
  const sOff = await via('raw', stream);
  const mbps = (ms: number) => (MB / (ms / 1000)).toFixed(0);
  rows.push([`${MB} MB output, masking on (MB/s)`, mbps(sd), `${mbps(sOn)} (${(sd / sOn).toFixed(2)}x)`]);
  rows.push([`${MB} MB output, masking off (MB/s)`, mbps(sd), `${mbps(sOff)} (${(sd / sOff).toFixed(2)}x)`]);
  // file transfers: sftp and scp name the port -P; the token is asked, so BatchMode goes back off
  const file = join(sshd.dir, 'bench.bin');
  writeFileSync(file, randomBytes(MB * 1_000_000));
  const batch = join(sshd.dir, 'batch');
  const directOpts = ['-P', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-i', join(sshd.dir, 'client_ed25519')];
  const viaOpts = ['-o', 'BatchMode=no', ...sshArgs(t.sshPort).map((a) => (a === '-p' ? '-P' : a))];
  const sftp = async (lines: string) => {
    writeFileSync(batch, lines);
    const a = await timed([...directOpts, '-b', batch, `${sshd.user}@127.0.0.1`], {}, 'sftp');
    const b = await timed([...viaOpts, '-b', batch, 'raw@127.0.0.1'], env, 'sftp');
    return [mbps(a), `${mbps(b)} (${(a / b).toFixed(2)}x)`] as const;
  };
  rows.push([`${MB} MB sftp put (MB/s)`, ...(await sftp(`put ${file} ${file}.up\n`))]);
  rows.push([`${MB} MB sftp get (MB/s)`, ...(await sftp(`get ${file} ${file}.down\n`))]);
  const scpUp = await timed([...directOpts, '-O', file, `${sshd.user}@127.0.0.1:${file}.scp`], {}, 'scp');
  const scpUpVia = await timed([...viaOpts, '-O', file, `raw@127.0.0.1:${file}.scp`], env, 'scp');
  rows.push([`${MB} MB scp -O upload (MB/s)`, mbps(scpUp), `${mbps(scpUpVia)} (${(scpUp / scpUpVia).toFixed(2)}x)`]);
  console.log('| measure | direct | via Warden |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} finally {
  await t.close();
  await sshd.close();
}
