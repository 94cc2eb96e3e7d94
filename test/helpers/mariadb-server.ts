// A private, throwaway MariaDB server for integration tests that must force what the
// machine's server does not do: an auth plugin (ed25519), TLS, a user that requires it.
//
// startMariadb() initialises a datadir with mariadb-install-db in a temp dir, starts
// mariadbd on a free 127.0.0.1 port (as the `mysql` OS user when the tests run as root),
// optionally with TLS (a test CA) and extra plugins, and waits until it answers. The harness
// itself talks to it over the Unix socket in the temp dir as root (unix_socket auth).
// Always call close() (in an `after`); it stops the server and removes the temp dir.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeCertificate } from './tls.ts';
import { freePort } from './free-port.ts';

const execFileP = promisify(execFile);

export interface MariadbServer {
  host: '127.0.0.1';
  port: number;
  /** PEM of the CA that signed the server certificate (when `tls` was set) */
  caCert?: string;
  /** run SQL as root over the Unix socket; rejects with the server's error */
  admin(sql: string): Promise<string>;
  close(): Promise<void>;
}

export interface StartMariadbOptions {
  tls?: boolean;
  /** server plugins to load, e.g. ['auth_ed25519'] */
  plugins?: string[];
  /** more mariadbd options, e.g. ['--max-allowed-packet=64M'] */
  args?: string[];
}

function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mysql:'));
  if (!line) throw new Error('mariadb-server: running as root but there is no `mysql` OS user to run mariadbd as');
  const parts = line.split(':');
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}

export async function startMariadb(opts: StartMariadbOptions = {}): Promise<MariadbServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'warden-mariadb-'));
  const owner = runAs();
  const dataDir = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
  let child: ChildProcess | null = null;
  const cleanup = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Its own temp dir: a mariadbd that starts removes every `#sql*` file in its tmpdir, so
    // two private servers starting at once in /tmp (test files run in parallel) removed each
    // other's temporary tables and mariadb-install-db failed ("Unknown table mysql.tmp_user_...").
    const tmp = path.join(dir, 'tmp');
    await mkdir(tmp);
    if (owner) for (const d of [dir, tmp]) await chown(d, owner.uid, owner.gid);
    const user = owner ? ['--user=mysql'] : [];
    await execFileP('mariadb-install-db', ['--no-defaults', `--datadir=${dataDir}`, ...user, '--skip-test-db', '--skip-name-resolve', '--auth-root-authentication-method=socket', `--tmpdir=${tmp}`], { timeout: 120_000 });
    const args = [
      '--no-defaults', `--datadir=${dataDir}`, `--socket=${socket}`, `--pid-file=${path.join(dir, 'mysqld.pid')}`, `--log-error=${path.join(dir, 'error.log')}`, `--tmpdir=${tmp}`,
      '--bind-address=127.0.0.1', '--skip-name-resolve', '--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--skip-log-bin', '--performance-schema=OFF',
      ...user,
    ];
    for (const p of opts.plugins ?? []) args.push(`--plugin-load-add=${p}`);
    args.push(...(opts.args ?? []));
    let caCert: string | undefined;
    if (opts.tls) {
      const c = await makeCertificate();
      caCert = c.ca;
      for (const [name, pem] of [['server-cert.pem', c.cert], ['server-key.pem', c.key], ['ca.pem', c.ca]] as const) {
        const f = path.join(dir, name);
        await writeFile(f, pem, { mode: 0o600 });
        if (owner) await chown(f, owner.uid, owner.gid);
      }
      args.push(`--ssl-cert=${path.join(dir, 'server-cert.pem')}`, `--ssl-key=${path.join(dir, 'server-key.pem')}`, `--ssl-ca=${path.join(dir, 'ca.pem')}`);
    }
    const port = await freePort();
    args.push(`--port=${port}`);
    child = spawn('mariadbd', args, { stdio: 'ignore' });
    const admin = async (sql: string) => (await execFileP('mysql', ['--no-defaults', '-S', socket, '-uroot', '-N', '-B', '-e', sql], { timeout: 30_000 })).stdout;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`mariadbd exited with ${child.exitCode}: ${readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-2000)}`);
      try {
        await admin('SELECT 1');
        break;
      } catch {
        if (i > 300) throw new Error('mariadbd did not start within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return { host: '127.0.0.1', port, ...(caCert ? { caCert } : {}), admin, close: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
