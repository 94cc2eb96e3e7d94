// Runs one command of an exec connection on this machine: the embedded agent calls it in
// the gateway's process, a remote agent for a stream the gateway opened (exec-wire.ts).
//
// No shell: the program gets its argv as an array. Its environment is PATH, HOME and the
// connection's variables only, never this process's own (a gateway's secrets, a caller's
// LD_PRELOAD). HOME is the run's private directory, so no ~/.pgpass, ~/.kube/config or
// ~/.gitconfig of the account running Warden is read. Credential files are written there
// with mode 0600 and removed with it when the command ends. The command runs in its own
// process group, so a kill (timeout, caller gone) reaches what it started too.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

/** Version of the spec an agent understands; an agent refuses a spec of another. */
export const EXEC_VERSION = 1;

export interface ExecSpec {
  v: number;
  /** the program and the connection's fixed arguments (may hold `${credentialFile:NAME}`) */
  command: string[];
  /** the caller's arguments: passed as they are, never expanded */
  args: string[];
  /** environment variables (may hold `${credentialFile:NAME}`) */
  env: Record<string, string>;
  /** credential files by name, written 0600 for the run */
  files: Record<string, string>;
  cwd?: string;
  timeoutMs: number;
}

export interface ExecExit {
  /** the exit status; null when a signal ended it or it never started */
  code: number | null;
  signal: string | null;
  /** why it did not run or did not finish (cannot start the program, timed out, agent gone) */
  error?: string;
}

export interface OutputChunk {
  /** 1: stdout, 2: stderr */
  fd: 1 | 2;
  data: Buffer;
}

/** A running command: its output in order (objectMode, with backpressure), its exit, a kill. */
export interface ExecProcess {
  output: Readable;
  exit: Promise<ExecExit>;
  /** stop it (the caller left): the whole process group gets SIGKILL */
  kill(reason: string): void;
}

const FILE_REF = /\$\{credentialFile:([^}]*)\}/g;
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** after SIGTERM on timeout, SIGKILL this much later */
const KILL_GRACE_MS = 2000;

/** What is wrong with a spec (from the network on an agent), or null. */
export function specProblem(s: unknown): string | null {
  const o = s as Partial<ExecSpec> | null;
  const strings = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === 'string' && !x.includes('\0'));
  const record = (r: unknown) => !!r && typeof r === 'object' && !Array.isArray(r) && Object.values(r).every((x) => typeof x === 'string' && !x.includes('\0'));
  if (!o || typeof o !== 'object') return 'not an object';
  if (o.v !== EXEC_VERSION) return `exec spec version ${String(o.v)}, this agent runs version ${EXEC_VERSION}: upgrade the older side`;
  if (!strings(o.command) || o.command!.length === 0) return 'command: expected the program and its fixed arguments';
  if (!strings(o.args)) return 'args: expected strings without NUL';
  if (!record(o.env) || !record(o.files)) return 'env and files: expected string values without NUL';
  if (Object.keys(o.files!).some((n) => !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n))) return 'files: a name with a path in it';
  if (o.cwd !== undefined && typeof o.cwd !== 'string') return 'cwd: expected a path';
  if (typeof o.timeoutMs !== 'number' || !(o.timeoutMs > 0)) return 'timeoutMs: expected a positive number';
  return null;
}

export function spawnLocal(spec: ExecSpec): ExecProcess {
  const problem = specProblem(spec);
  if (problem) return failed(`invalid exec spec: ${problem}`);
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'warden-exec-')); // mode 0700
    for (const [name, content] of Object.entries(spec.files)) writeFileSync(join(dir, name), content, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    return failed(`cannot write the credential files: ${(e as Error).message}`);
  }
  const fill = (s: string) => s.replace(FILE_REF, (_m, name: string) => join(dir, name));
  const env: Record<string, string> = { PATH: process.env.PATH || DEFAULT_PATH, HOME: dir };
  for (const [k, v] of Object.entries(spec.env)) env[k] = fill(v);
  const [program, ...fixed] = spec.command.map(fill);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });

  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(program!, [...fixed, ...spec.args], { env, cwd: spec.cwd ? fill(spec.cwd) : dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
  } catch (e) {
    cleanup();
    return failed(`cannot start ${program}: ${(e as Error).message}`);
  }
  const streams = [child.stdout!, child.stderr!];
  const output = new Readable({
    objectMode: true,
    highWaterMark: 16,
    read: () => streams.forEach((s) => s.resume()),
  });
  const push = (fd: 1 | 2) => (data: Buffer) => {
    if (!output.push({ fd, data } satisfies OutputChunk)) streams.forEach((s) => s.pause());
  };
  child.stdout!.on('data', push(1));
  child.stderr!.on('data', push(2));

  let why: string | undefined;
  let closed = false;
  // the group, not only the program: what it started holds its output pipes open too
  const group = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || closed) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  const timer = setTimeout(() => {
    why = `timed out after ${spec.timeoutMs} ms: killed`;
    group('SIGTERM');
    setTimeout(() => group('SIGKILL'), KILL_GRACE_MS).unref();
  }, spec.timeoutMs);
  timer.unref();

  const exit = new Promise<ExecExit>((resolve) => {
    let done = false;
    const finish = (x: ExecExit) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup();
      output.push(null);
      resolve(x);
    };
    // ENOENT is both "no such program" and "no such working directory"
    const missing = spec.cwd ? `not found on PATH, or the working directory ${fill(spec.cwd)} does not exist` : 'not found on PATH';
    child.once('error', (e: NodeJS.ErrnoException) => finish({ code: null, signal: null, error: e.code === 'ENOENT' ? `cannot start ${program}: ${missing}` : `cannot start ${program}: ${e.message}` }));
    child.once('close', (code, signal) => {
      // what it started may linger in the group, holding nothing we read: end it too
      group('SIGKILL');
      closed = true;
      finish({ code, signal, ...(why ? { error: why } : {}) });
    });
  });
  return {
    output,
    exit,
    kill: (reason) => {
      why ??= reason;
      group('SIGKILL');
    },
  };
}

/** A command that never started: no output, an exit that says why. */
export function failed(error: string): ExecProcess {
  const output = new Readable({ objectMode: true, read() {} });
  output.push(null);
  return { output, exit: Promise.resolve({ code: null, signal: null, error }), kill: () => {} };
}
