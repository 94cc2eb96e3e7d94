// Helpers for the remote-agent tests: the agent always runs as its own OS process
// (`node bin/warden.js agent`), as it would in a private network.
import { spawn, type ChildProcess } from 'node:child_process';

const ROOT = new URL('../..', import.meta.url).pathname;
export const BIN = `${ROOT}bin/warden.js`;

export interface AgentProcess {
  child: ChildProcess;
  /** everything the process printed so far (stdout and stderr) */
  output(): string;
  /** resolves when a line matching `re` has been printed */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** resolves with the exit code (or signal name) */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

export function spawnAgent(gateway: string, token: string, env: Record<string, string> = {}, extraArgs: string[] = []): AgentProcess {
  const child = spawn(process.execPath, [BIN, 'agent', '--gateway', gateway, '--log-level', 'debug', ...extraArgs], {
    env: { ...process.env, WARDEN_AGENT_TOKEN: token, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Nothing the agent holds keeps the test file's process alive, and whatever is left
  // when it exits is killed: a hung agent fails its test, never the whole run.
  child.unref();
  for (const s of [child.stdout, child.stderr] as unknown as { unref(): void }[]) s.unref();
  process.once('exit', () => child.kill('SIGKILL'));
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) if (w.re.test(out)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    waitFor(re, timeoutMs = 20_000) {
      if (re.test(out)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`agent did not print ${re} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        waiters.push({ re, resolve: () => { clearTimeout(timer); resolve(); } });
        void exited.then((c) => { clearTimeout(timer); reject(new Error(`agent exited (${c}) before printing ${re}; output:\n${out}`)); });
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        // A process that does not end on its signal must not hold the test file open
        // for ever (as a hung agent once held CI): SIGKILL after 10 s.
        const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
        void exited.then(() => clearTimeout(hard));
      }
      return exited;
    },
  };
}

/** Poll `fn` until it returns a truthy value; fail with `what` after timeoutMs. */
export async function eventually<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The gateway's view of one agent (GET /api/v1/agents, admin). */
export async function agentStatus(httpUrl: string, adminToken: string, name: string): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(`${httpUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${adminToken}` } });
  if (!res.ok) throw new Error(`GET /api/v1/agents: ${res.status}`);
  return ((await res.json()) as Record<string, unknown>[]).find((a) => a.name === name);
}

export const isConnected = async (httpUrl: string, adminToken: string, name: string) => (await agentStatus(httpUrl, adminToken, name))?.status === 'connected';
