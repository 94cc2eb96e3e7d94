// npm run bench:ssh — OpenSSH's ssh to a private sshd directly and through Warden (`warden
// start` as its own process, embedded agent, strict recording), same run:
// - the round trip of an exec (`ssh host true`, a new connection each time: the median of
//   BENCH_RUNS, default 15);
// - 100 MB of text output streamed to the caller (`yes | head -c 100M`), masking on and off;
// - keystroke latency in a pty shell (ssh2's client, the same for both paths): one
//   character at a time, the time until its echo comes back, median and p99 over
//   BENCH_KEYS (default 200) keystrokes, masking on and off, and the gateway process's CPU
//   time (user + system, /proc) per keystroke.
// - a file of as many MB uploaded and downloaded with `sftp -b` and legacy `scp -O` (each
//   file recorded with its sha256 via Warden).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { askpass, sshArgs, startSshd } from '../test/helpers/sshd.ts';
import { cpuMs, startGateway } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const MB = Number(process.env.BENCH_MB ?? 100);
const KEYS = Number(process.env.BENCH_KEYS ?? 200);

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
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

/**
 * A pty shell over `login`; types KEYS printable characters one at a time, each once the
 * previous one's echo came back, and times each echo. The line is wiped (Ctrl-U) at the
 * end, so nothing runs. `around` is called before and after the typing (to read a process's CPU).
 */
function keystrokes(login: ssh2.ConnectConfig, around: { before(): void; after(): void }): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('error', reject);
    c.on('ready', () => {
      // as OpenSSH's client does for a terminal: no Nagle delay on the keystrokes
      c.setNoDelay(true);
      c.shell({ term: 'xterm', cols: 200, rows: 50 }, (err, sh) => {
        if (err) return reject(err);
        let out = '';
        let waiting: ((s: string) => void) | null = null;
        sh.on('data', (b: Buffer) => {
          out += b.toString();
          waiting?.(out);
        });
        const until = (test: (s: string) => boolean) => new Promise<void>((ok) => {
          if (test(out)) return ok();
          waiting = (s) => {
            if (test(s)) {
              waiting = null;
              ok();
            }
          };
        });
        void (async () => {
          await until((s) => /[$#] $/.test(s)); // the prompt
          around.before();
          const times: number[] = [];
          for (let i = 0; i < KEYS; i++) {
            const ch = String.fromCharCode(97 + (i % 26));
            out = '';
            const t0 = performance.now();
            sh.write(ch);
            await until((s) => s.includes(ch));
            times.push(performance.now() - t0);
          }
          around.after();
          sh.write('\x15exit\r');
          sh.on('close', () => {
            c.end();
            resolve(times);
          });
        })().catch(reject);
      });
    });
    c.connect(login);
  });
}

const sshd = await startSshd();
const conn = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['bench'] }, ...extra });
const gw = await startGateway({ connections: [conn('box'), conn('raw', { masking: { enabled: false } })], mode: 'strict', groups: ['bench'], ssh: true });
try {
  const env = askpass(sshd.dir, gw.token);
  const direct = (cmd: string) => timed(['-p', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-i', join(sshd.dir, 'client_ed25519'), `${sshd.user}@127.0.0.1`, cmd]);
  const via = (user: string, cmd: string) => timed([...sshArgs(gw.sshPort), `${user}@127.0.0.1`, cmd], env);
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
  const viaOpts = ['-o', 'BatchMode=no', ...sshArgs(gw.sshPort).map((a) => (a === '-p' ? '-P' : a))];
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

  const nothing = { before() {}, after() {} };
  const kd = await keystrokes({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: sshd.clientKey }, nothing);
  const cpu = () => {
    let c0 = 0;
    const r = { perKeyMs: 0, before: () => void (c0 = cpuMs(gw.pid)), after: () => void (r.perKeyMs = (cpuMs(gw.pid) - c0) / KEYS) };
    return r;
  };
  const cOn = cpu();
  const kOn = await keystrokes({ host: '127.0.0.1', port: gw.sshPort, username: 'box', password: gw.token }, cOn);
  const cOff = cpu();
  const kOff = await keystrokes({ host: '127.0.0.1', port: gw.sshPort, username: 'raw', password: gw.token }, cOff);
  const ms = (x: number) => x.toFixed(1);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x, +${ms(a - b)} ms`;
  for (const [name, k, c] of [['masking on', kOn, cOn], ['masking off', kOff, cOff]] as const) {
    rows.push([`keystroke echo, ${name}: median ms`, ms(median(kd)), `${ms(median(k))} (${ratio(median(k), median(kd))})`]);
    rows.push([`keystroke echo, ${name}: p99 ms`, ms(pct(kd, 99)), `${ms(pct(k, 99))} (${ratio(pct(k, 99), pct(kd, 99))})`]);
    rows.push([`gateway CPU per keystroke, ${name} (ms)`, '-', ms(c.perKeyMs)]);
  }
  console.log(`${KEYS} keystrokes each; exec: median of ${RUNS}`);
  console.log('| measure | direct | via Warden |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} finally {
  await gw.stop();
  await sshd.close();
}
