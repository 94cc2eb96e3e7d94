// A private, throwaway Postgres cluster for integration tests.
//
// startPgCluster() initdb's (once per process, into a template that is then copied), writes a
// config for speed (fsync off, small shared_buffers), a pg_hba.conf that forces one auth method
// for every TCP connection on 127.0.0.1, optionally turns on TLS with a test CA, starts the server
// on a random free port with `pg_ctl -w start`, and creates the requested users with passwords
// hashed the way the auth method needs (md5 for 'md5', SCRAM otherwise).
//
// Postgres refuses to run as root: when the tests run as root, every Postgres binary runs as the
// `postgres` OS user (spawned with its uid/gid) in a temp dir that user owns. The harness itself
// talks to the server over the Unix socket in that temp dir (`local all postgres trust`), so it
// stays out of the system cluster's /var/run/postgresql.
//
// Always call close() (in an `after`/`finally`); it stops the server and removes the temp dir.
// As a safety net, clusters still running when the process exits (or gets SIGINT/SIGTERM/SIGHUP)
// are stopped with `-m immediate` and their dirs removed.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { makeCertificate } from './tls.ts';
import { freePort } from './free-port.ts';

const execFileP = promisify(execFile);

export type PgAuthMethod = 'scram-sha-256' | 'md5' | 'password' | 'trust';

export interface PgUser {
  name: string;
  password: string;
}

export interface StartPgClusterOptions {
  /** Auth method pg_hba.conf forces for every TCP connection (all users, incl. the superuser). */
  auth: PgAuthMethod;
  /**
   * TLS. `true`: TLS offered (hostssl + host lines). `'require'`: only hostssl lines, so a
   * plain connection is refused. Default false (no TLS; ssl=off).
   */
  ssl?: boolean | 'require';
  /**
   * Login roles to create (non-superusers with ALL on schema public of `postgres`).
   * Default: one user `app` with a random password. Pass `[]` for none.
   */
  users?: PgUser[];
}

export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  database: 'postgres';
  superuser: { name: 'postgres'; password: string };
  users: PgUser[];
  /** PEM of the CA that signed the server certificate (present when `ssl` was set). */
  caCert?: string;
  /** Directory holding the Unix socket (connect with `host: socketDir`; only `postgres` is allowed, trust). */
  socketDir: string;
  dataDir: string;
  logFile: string;
  /** Wall time startPgCluster() took, in milliseconds. */
  startupMs: number;
  /** Stop the server but keep its data (e.g. to simulate an upstream that dies). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Start a stopped server again on the same port. */
  start(): Promise<void>;
  /** Stop the server and remove every file. Idempotent; never throws. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// environment

function findBinDir(): string {
  const fromEnv = process.env.WARDEN_PG_BINDIR;
  if (fromEnv) return fromEnv;
  const preferred = '/usr/lib/postgresql/15/bin';
  if (existsSync(path.join(preferred, 'initdb'))) return preferred;
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => existsSync(path.join('/usr/lib/postgresql', v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join('/usr/lib/postgresql', versions[0], 'bin');
  } catch {
    // fall through
  }
  return preferred;
}

const BIN_DIR = findBinDir();
const bin = (name: string): string => path.join(BIN_DIR, name);

interface RunAs {
  uid: number;
  gid: number;
}

/** The identity Postgres binaries run as: the `postgres` OS user when we are root, else ourselves. */
function resolveRunAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('pg-cluster: running as root but there is no `postgres` OS user to run Postgres as');
  const parts = line.split(':');
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}

const RUN_AS = resolveRunAs();

/** A clean environment: no PG* variables from the caller leak into initdb/pg_ctl. */
function childEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    LC_ALL: 'C',
    TZ: 'UTC',
  };
}

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, {
      cwd,
      env: childEnv(cwd),
      ...(RUN_AS ?? {}),
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

function runSync(cmd: string, args: string[], cwd: string): void {
  try {
    execFileSync(cmd, args, { cwd, env: childEnv(cwd), ...(RUN_AS ?? {}), stdio: 'ignore', timeout: 15_000 });
  } catch {
    // best effort
  }
}

/**
 * Where cluster dirs go: $WARDEN_PG_TMPDIR, else /dev/shm when it is a writable tmpfs, else the OS
 * temp dir. On this machine copying a data dir into ext4 /tmp takes 0.5-0.9 s under load versus
 * ~50 ms into tmpfs, which is most of a cluster's startup time.
 */
function baseTempDir(): string {
  const fromEnv = process.env.WARDEN_PG_TMPDIR;
  if (fromEnv) return fromEnv;
  try {
    accessSync('/dev/shm', constants.W_OK | constants.X_OK);
    if (statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // no tmpfs: use the OS temp dir
  }
  return tmpdir();
}

const BASE_TMP = baseTempDir();

/** A temp dir owned by the user Postgres runs as, mode 0700. */
async function makeOwnedTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(BASE_TMP, prefix));
  if (RUN_AS) await chown(dir, RUN_AS.uid, RUN_AS.gid);
  await chmod(dir, 0o700);
  return dir;
}

async function writeOwned(file: string, content: string, mode = 0o600): Promise<void> {
  await writeFile(file, content, { mode });
  if (RUN_AS) await chown(file, RUN_AS.uid, RUN_AS.gid);
  await chmod(file, mode);
}

const randomPassword = (): string => randomBytes(18).toString('base64url');

// ---------------------------------------------------------------------------------------------
// process-wide state: the initdb template and the clusters still running

let templatePromise: Promise<string> | undefined;
let templateRoot: string | undefined;

interface LiveCluster {
  dir: string;
  dataDir: string;
}
const live = new Set<LiveCluster>();
let exitHooksInstalled = false;

function cleanupSync(): void {
  for (const c of live) {
    runSync(bin('pg_ctl'), ['stop', '-D', c.dataDir, '-m', 'immediate', '-w', '-t', '10'], c.dir);
    rmSync(c.dir, { recursive: true, force: true });
  }
  live.clear();
  if (templateRoot) {
    rmSync(templateRoot, { recursive: true, force: true });
    templateRoot = undefined;
    templatePromise = undefined;
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupSync();
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}

/** initdb once per process; every cluster starts from a copy (cp -a is ~10x faster than initdb). */
function template(): Promise<string> {
  templatePromise ??= (async () => {
    const root = await makeOwnedTempDir('warden-pg-template-');
    templateRoot = root;
    const dataDir = path.join(root, 'data');
    await run(
      bin('initdb'),
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions', '--wal-segsize=1'],
      root,
    );
    return dataDir;
  })();
  templatePromise.catch(() => {
    templatePromise = undefined;
  });
  return templatePromise;
}

// ---------------------------------------------------------------------------------------------
// config

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function postgresqlConf(opts: { socketDir: string; auth: PgAuthMethod; ssl: boolean }): string {
  const lines = [
    '',
    '# --- warden test harness ---',
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = ${sqlString(opts.socketDir)}`,
    'max_connections = 50',
    'shared_buffers = 16MB',
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'wal_level = minimal',
    'max_wal_senders = 0',
    'autovacuum = off',
    'huge_pages = off',
    "timezone = 'UTC'",
    // Logs `connection authenticated: identity=... method=scram-sha-256` lines: handy when a test fails.
    'log_connections = on',
    `password_encryption = ${opts.auth === 'md5' ? "'md5'" : "'scram-sha-256'"}`,
    `ssl = ${opts.ssl ? 'on' : 'off'}`,
  ];
  if (opts.ssl) lines.push("ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'");
  return lines.join('\n') + '\n';
}

function hbaConf(auth: PgAuthMethod, ssl: boolean | 'require'): string {
  const lines = [
    '# warden test harness: the harness itself uses the socket as postgres; TCP forces one method.',
    'local   all  postgres                 trust',
  ];
  if (ssl) lines.push(`hostssl all  all       127.0.0.1/32  ${auth}`);
  if (ssl !== 'require') lines.push(`host    all  all       127.0.0.1/32  ${auth}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------

const PORT_IN_USE = /could not bind|address already in use|could not create any TCP\/IP sockets/i;

export async function startPgCluster(opts: StartPgClusterOptions): Promise<PgCluster> {
  const t0 = performance.now();
  const auth = opts.auth;
  const ssl = opts.ssl ?? false;
  const users = (opts.users ?? [{ name: 'app', password: randomPassword() }]).map((u) => ({ ...u }));
  for (const u of users) {
    if (u.name === 'postgres') throw new Error('pg-cluster: `postgres` is the superuser; choose another user name');
  }
  const superuser = { name: 'postgres' as const, password: randomPassword() };

  installExitHooks();
  const templateDir = await template();
  const dir = await makeOwnedTempDir('warden-pg-');
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const entry: LiveCluster = { dir, dataDir };
  live.add(entry);

  let port = 0;
  let running = false;

  const pgCtl = (args: string[]): Promise<string> => run(bin('pg_ctl'), args, dir);

  const stop = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    if (!running) return;
    await pgCtl(['stop', '-D', dataDir, '-m', mode, '-w', '-t', '30']);
    running = false;
  };

  const start = async (): Promise<void> => {
    if (running) return;
    await pgCtl(['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port}`]);
    running = true;
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (running) {
        try {
          await stop('fast');
        } catch {
          try {
            await stop('immediate');
          } catch {
            killPostmaster(dataDir);
          }
        }
      }
      await rm(dir, { recursive: true, force: true });
      live.delete(entry);
    })();
    return closing;
  };

  try {
    await run('cp', ['-a', templateDir, dataDir], dir);
    await writeFile(path.join(dataDir, 'postgresql.conf'), postgresqlConf({ socketDir: dir, auth, ssl: !!ssl }), {
      flag: 'a',
    });
    await writeOwned(path.join(dataDir, 'pg_hba.conf'), hbaConf(auth, ssl));

    let caCert: string | undefined;
    if (ssl) {
      const c = await makeCertificate();
      await writeOwned(path.join(dataDir, 'server.crt'), c.cert);
      await writeOwned(path.join(dataDir, 'server.key'), c.key);
      caCert = c.ca;
    }

    // Random free port; retry if someone grabs it between our probe and the postmaster's bind.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (err) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (attempt < 8 && PORT_IN_USE.test(log)) {
          await rm(logFile, { force: true });
          continue;
        }
        throw new Error(`${(err as Error).message}\n--- ${logFile} ---\n${log.slice(-4000)}`, { cause: err });
      }
    }

    await createRoles({ socketDir: dir, port, auth, superuser, users });

    return {
      host: '127.0.0.1',
      port,
      database: 'postgres',
      superuser,
      users,
      ...(caCert !== undefined ? { caCert } : {}),
      socketDir: dir,
      dataDir,
      logFile,
      startupMs: Math.round(performance.now() - t0),
      stop,
      start,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function killPostmaster(dataDir: string): void {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // not running
  }
}

async function createRoles(o: {
  socketDir: string;
  port: number;
  auth: PgAuthMethod;
  superuser: PgUser;
  users: PgUser[];
}): Promise<void> {
  const client = new pg.Client({ host: o.socketDir, port: o.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const enc = o.auth === 'md5' ? 'md5' : 'scram-sha-256';
    const lit = (s: string): string => client.escapeLiteral(s);
    const id = (s: string): string => client.escapeIdentifier(s);
    const sql = [`SET password_encryption = ${lit(enc)}`, `ALTER ROLE postgres PASSWORD ${lit(o.superuser.password)}`];
    for (const u of o.users) {
      sql.push(`CREATE ROLE ${id(u.name)} LOGIN PASSWORD ${lit(u.password)}`);
      sql.push(`GRANT ALL ON SCHEMA public TO ${id(u.name)}`);
    }
    await client.query(sql.join(';\n'));

    // Sanity check: the stored hashes are of the kind the auth method needs.
    const prefix = enc === 'md5' ? 'md5' : 'SCRAM-SHA-256$';
    const { rows } = await client.query<{ rolname: string; ok: boolean }>(
      'SELECT rolname, starts_with(rolpassword, $1) AS ok FROM pg_authid WHERE rolname = ANY($2)',
      [prefix, ['postgres', ...o.users.map((u) => u.name)]],
    );
    const bad = rows.filter((r) => !r.ok).map((r) => r.rolname);
    if (bad.length) throw new Error(`pg-cluster: roles without a ${enc} password hash: ${bad.join(', ')}`);
  } finally {
    await client.end();
  }
}
