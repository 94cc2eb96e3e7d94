// Runs one command on an exec connection for an admitted caller: `warden exec <connection> --
// <args>` (POST /api/v1/exec) and the MCP `run` tool. Each run is a session of its own
// (protocol `exec` or `mcp`) with one command: the program's name and the caller's
// arguments, judged with the `commands` globs before anything runs and recorded first (strict
// mode). An allowed one runs where the connection's agent is, with the connection's
// credentials; its output streams back to the caller with credentials and masked values
// replaced, and is recorded (capped) with its exit status and duration.
import { StringDecoder } from 'node:string_decoder';
import type { Identity } from '../../identity/types.ts';
import type { ConnectionConfig, ExecConnectionConfig } from '../../config/schema.ts';
import type { Admission, AdmissionRefusal } from '../../session/admission.ts';
import type { OpenSession } from '../../session/types.ts';
import { MaskedOutput } from '../ssh/output.ts';
import { EXEC_VERSION, type ExecProcess, type ExecSpec, type OutputChunk } from '../../tunnel/exec-spawn.ts';
import { CredentialScrubber, credentialValues } from './credentials.ts';
import { displayArgv } from './argv.ts';

/** A caller's arguments: at most this many, this many bytes in all (the kernel's own limit is far above). */
export const MAX_ARGS = 1024;
export const MAX_ARGV_BYTES = 128 * 1024;
/** how long past its timeout a command may go without an exit status before the gateway gives up on it */
const BACKSTOP_MS = 15_000;

export type ExecRunRefusal =
  | AdmissionRefusal
  | { kind: 'invalid'; message: string }
  | { kind: 'blocked'; message: string }
  | { kind: 'review'; reviewId: string; message: string };

export interface ExecRunResult {
  ok: true;
  sessionId: string;
  /** exit status; null when a signal ended it or it did not run (see error) */
  code: number | null;
  signal: string | null;
  /** why it did not run or did not finish: the agent is not connected, cannot start the program, timed out */
  error?: string;
  durationMs: number;
  /** a credential or a masked value was replaced in the output */
  masked: boolean;
  /** output kept for the record (masked, capped) */
  stdout: string;
  stderr: string;
  truncated: boolean;
}

export type ExecRunOutcome = ExecRunResult | { ok: false; refusal: ExecRunRefusal };

export interface ExecRunRequest {
  identity: Identity;
  connection: string;
  args: unknown;
  frontDoor: 'exec' | 'mcp';
  clientAddr: string;
  /** output as it streams (masked text); a promise when the consumer wants no more for now */
  write(fd: 1 | 2, text: string): void | Promise<void>;
  /** the caller left: kill the command */
  signal?: AbortSignal;
  /** the command was allowed and recorded, and is about to start (before any output) */
  started?(sessionId: string): void;
}

export interface ExecRunnerDeps {
  admission: Admission<ConnectionConfig>;
  openSession: OpenSession;
  /** start the command where agent `agent` is (rejects when the agent cannot be reached) */
  exec(agent: string, spec: ExecSpec): Promise<ExecProcess>;
  /** bytes of each output stream kept in the record */
  keepBytes: number;
}

/** What is wrong with a caller's arguments, or null. */
export function argvProblem(args: unknown): string | null {
  if (!Array.isArray(args)) return 'argv: expected an array of strings';
  if (args.length > MAX_ARGS) return `argv: ${args.length} arguments, at most ${MAX_ARGS}`;
  let bytes = 0;
  for (const [i, a] of args.entries()) {
    if (typeof a !== 'string') return `argv[${i}]: expected a string`;
    if (a.includes('\0')) return `argv[${i}]: holds a NUL character, which no program can receive`;
    bytes += Buffer.byteLength(a) + 1;
  }
  if (bytes > MAX_ARGV_BYTES) return `argv: ${bytes} bytes, at most ${MAX_ARGV_BYTES}`;
  return null;
}

export class ExecRunner {
  /** commands running now, killed when the gateway shuts down */
  private readonly running = new Set<ExecProcess>();
  /** runs not finished (their records not yet handed to the session) */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly deps: ExecRunnerDeps) {}

  /** Kill every running command (the gateway is shutting down) and wait (a little) for their records. */
  async close(): Promise<void> {
    for (const p of this.running) p.kill('the gateway is shutting down');
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  run(req: ExecRunRequest): Promise<ExecRunOutcome> {
    const p = this.runOnce(req);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => {});
    return p;
  }

  private async runOnce(req: ExecRunRequest): Promise<ExecRunOutcome> {
    const bad = argvProblem(req.args);
    if (bad) return { ok: false, refusal: { kind: 'invalid', message: bad } };
    const args = req.args as string[];
    const answer = await this.deps.admission.admit({ credential: { kind: 'identity', identity: req.identity }, connection: req.connection, type: '*', clientAddr: req.clientAddr, frontDoor: req.frontDoor });
    if (!answer.ok) return { ok: false, refusal: answer.refusal };
    const c = answer.connection;
    if (c.type !== 'exec') return { ok: false, refusal: { kind: 'unknown_connection', message: `connection "${c.name}" is of type ${c.type}, not exec: ${c.type === 'postgres' || c.type === 'mysql' ? 'run SQL with `warden exec <connection> -c "<statement>"`' : 'it runs no commands'}` } };
    const session = await this.deps.openSession({ identity: answer.identity, connection: c.name, connectionType: 'exec', protocol: req.frontDoor, clientAddr: req.clientAddr });
    try {
      return await this.judgeAndRun(session, c, args, req);
    } finally {
      await session.end('command finished');
    }
  }

  private async judgeAndRun(session: Awaited<ReturnType<OpenSession>>, c: ExecConnectionConfig, args: string[], req: ExecRunRequest): Promise<ExecRunOutcome> {
    // judged as the program's name and the caller's words: the fixed arguments are the admin's
    const argv = [c.command[0]!.split('/').pop()!, ...args];
    const d = await session.command({ text: displayArgv(argv), via: 'exec', argv });
    if (d.action === 'block') return { ok: false, refusal: { kind: 'blocked', message: d.reason } };
    if (d.action === 'review') return { ok: false, refusal: { kind: 'review', reviewId: d.reviewId, message: d.message } };
    const started = Date.now();
    const sessionId = d.commandId.slice(0, d.commandId.lastIndexOf(':'));
    const outs = this.outputs(session.masker, c, req);
    const finish = (x: { code: number | null; signal: string | null; error?: string }): ExecRunResult => {
      const durationMs = Date.now() - started;
      const [o, e] = [outs[1], outs[2]];
      const masked = o.masked || e.masked;
      session.result(d.commandId, {
        columns: [{ name: 'stream' }, { name: 'output' }],
        rows: [['stdout', o.kept], ['stderr', e.kept]],
        rowCount: 2,
        truncated: o.truncated || e.truncated,
        ...(masked ? { maskedColumns: ['output'] } : {}),
        tag: x.signal ? `signal ${x.signal}` : x.code !== null ? `exit ${x.code}` : 'not finished',
        ...(x.error ? { error: { message: x.error } } : {}),
        durationMs,
      });
      return { ok: true, sessionId, code: x.code, signal: x.signal, ...(x.error ? { error: x.error } : {}), durationMs, masked, stdout: o.kept, stderr: e.kept, truncated: o.truncated || e.truncated };
    };
    req.started?.(sessionId);
    if (req.signal?.aborted) return finish({ code: null, signal: null, error: 'the caller left before the command started' });
    const spec: ExecSpec = { v: EXEC_VERSION, command: c.command, args, env: { ...c.plainEnv, ...c.env }, files: c.files, ...(c.cwd ? { cwd: c.cwd } : {}), timeoutMs: c.timeout };
    let proc: ExecProcess;
    try {
      proc = await this.deps.exec(c.agent, spec);
    } catch (e) {
      return finish({ code: null, signal: null, error: `cannot reach the agent: ${(e as Error).message}` });
    }
    this.running.add(proc);
    const onAbort = () => proc.kill('the caller disconnected');
    req.signal?.addEventListener('abort', onAbort, { once: true });
    // The agent enforces the timeout; this stops waiting on an agent that does not
    // (wedged, or one that lies), so no run outlives its connection's timeout for long.
    const backstop = setTimeout(() => proc.kill(`no exit status ${BACKSTOP_MS / 1000} s after the timeout`), c.timeout + BACKSTOP_MS);
    backstop.unref();
    try {
      for await (const chunk of proc.output as AsyncIterable<OutputChunk>) {
        const wait = outs[chunk.fd].push(chunk.data);
        if (wait) await wait;
      }
      outs[1].end();
      outs[2].end();
      return finish(await proc.exit);
    } finally {
      clearTimeout(backstop);
      this.running.delete(proc);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** stdout and stderr on their way out: decoded, credentials replaced, then the connection's masking. */
  private outputs(masker: Awaited<ReturnType<OpenSession>>['masker'], c: ExecConnectionConfig, req: ExecRunRequest) {
    const values = credentialValues(c);
    const make = (fd: 1 | 2) => {
      const decoder = new StringDecoder('utf8');
      const scrub = new CredentialScrubber(values);
      let wait: void | Promise<void>;
      const out = new MaskedOutput({ masker, keepBytes: this.deps.keepBytes, idleFlushMs: 0, write: (_data, text) => void (text && (wait = req.write(fd, text))) });
      return {
        /** a promise when the caller is behind */
        push(b: Buffer): void | Promise<void> {
          wait = undefined;
          const text = scrub.push(decoder.write(b));
          if (text) out.push(Buffer.from(text));
          return wait;
        },
        end() {
          const rest = scrub.push(decoder.end()) + scrub.end();
          if (rest) out.push(Buffer.from(rest));
          out.end();
        },
        get masked() {
          return scrub.masked || out.masked;
        },
        get kept() {
          return out.kept;
        },
        get truncated() {
          return out.truncated;
        },
      };
    };
    return { 1: make(1), 2: make(2) } as const;
  }
}
