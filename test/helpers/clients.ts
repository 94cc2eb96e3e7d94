// Real clients for the tests: psql and pgbench as child processes, with the gateway's
// address and a token; never blocking the event loop the gateway runs on.
import { execFile } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export function psql(port: number, user: string, token: string, args: string[], opts: { sslmode?: string; input?: string; dbname?: string } = {}): Promise<RunResult> {
  const conn = `host=127.0.0.1 port=${port} user=${user} dbname=${opts.dbname ?? user} sslmode=${opts.sslmode ?? 'disable'}`;
  return run('psql', [conn, '-X', '-v', 'ON_ERROR_STOP=1', ...args], { env: { PGPASSWORD: token, PGCONNECT_TIMEOUT: '10' }, input: opts.input });
}
