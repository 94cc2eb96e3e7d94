// A private OpenSSH server for the SSH tests: Debian's sshd on a free loopback port, run as
// the current user with its own host key, an authorized key the test made (the gateway's
// key to the target) and its auth log on stderr, kept for assertions (ground truth: what
// the target saw). AcceptEnv * so an environment the gateway wrongly passed would arrive.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface TestSshd {
  port: number;
  dir: string;
  user: string;
  /** the key the gateway logs in with (OpenSSH private key) */
  clientKey: string;
  /** the target's host public key line (`ssh-ed25519 AAAA...`) */
  hostKey: string;
  /** everything sshd logged so far */
  log(): string;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'warden-test', '-f', file]);
}

export async function startSshd(): Promise<TestSshd> {
  // sshd run by root insists on its privilege separation directory (made at boot by Debian's service)
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'warden-sshd-'));
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'client_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_ed25519.pub')));
  const port = await freePort();
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `HostKey ${join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'ListenAddress 127.0.0.1',
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AcceptEnv *',
      'PermitUserEnvironment no',
      'AllowTcpForwarding yes',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  let log = '';
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log}`)), 10_000);
    const check = () => {
      if (/Server listening/.test(log)) {
        clearTimeout(timer);
        resolve();
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        reject(new Error(`sshd exited: ${log}`));
      } else setTimeout(check, 20);
    };
    check();
  });
  return {
    port,
    dir,
    user: userInfo().username,
    clientKey: readFileSync(join(dir, 'client_ed25519'), 'utf8'),
    hostKey: readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim(),
    log: () => log,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run OpenSSH's `ssh` against the gateway with a token as password (via SSH_ASKPASS). */
export function sshArgs(port: number, extra: string[] = []): string[] {
  return ['-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1', '-o', 'ConnectTimeout=10', ...extra];
}

/** An SSH_ASKPASS script that prints this token (the password prompt's answer). */
export function askpass(dir: string, token: string): Record<string, string> {
  const file = join(dir, `askpass-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(join(dir, `token-${file.slice(-10)}`), token);
  writeFileSync(file, `#!/bin/sh\ncat '${join(dir, `token-${file.slice(-10)}`)}'\n`, { mode: 0o700 });
  return { SSH_ASKPASS: file, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
}
