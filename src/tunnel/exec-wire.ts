// An exec over a tunnel stream. The gateway opens the stream with OPEN { exec: version }
// (tunnel.ts), then sends one SPEC record and half-closes; the agent runs the command and
// sends its output as STDOUT and STDERR records, then one EXIT record, and ends the stream.
// Either side aborting the stream (the caller left, the tunnel died) kills the command.
//   record: kind (u8) | length (u32 BE) | payload
// Flow control is the stream's own: the agent stops reading the command's output while the
// stream is full, the gateway stops reading the stream while its consumer is behind.
import { Readable, type Duplex } from 'node:stream';
import { failed, specProblem, spawnLocal, type ExecExit, type ExecProcess, type ExecSpec, type OutputChunk } from './exec-spawn.ts';

const Kind = { SPEC: 1, STDOUT: 2, STDERR: 3, EXIT: 4 } as const;
/** largest record: a spec carries credential files, a kubeconfig with certificates fits */
const MAX_RECORD = 4 << 20;

function record(kind: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const head = Buffer.allocUnsafe(5);
  head[0] = kind;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into records. */
class Records {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly on: (kind: number, payload: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (len > MAX_RECORD) throw new Error(`exec record of ${len} bytes exceeds ${MAX_RECORD}`);
      if (this.buf.length < 5 + len) return;
      const kind = this.buf[0]!;
      const payload = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      this.on(kind, payload);
    }
  }
}

/** Gateway end: send the spec, read the command's output and exit from the agent. */
export function remoteExec(stream: Duplex, spec: ExecSpec, peer: string): ExecProcess {
  let exit: ExecExit | null = null;
  let settle!: (x: ExecExit) => void;
  const exited = new Promise<ExecExit>((r) => (settle = r));
  const output = new Readable({ objectMode: true, highWaterMark: 16, read: () => void stream.resume() });
  const finish = (x: ExecExit) => {
    if (exit) return;
    exit = x;
    output.push(null);
    settle(x);
  };
  const records = new Records((kind, payload) => {
    if (exit) return; // nothing counts after the exit status
    if (kind === Kind.STDOUT || kind === Kind.STDERR) {
      if (!output.push({ fd: kind === Kind.STDOUT ? 1 : 2, data: Buffer.from(payload) } satisfies OutputChunk)) stream.pause();
    } else if (kind === Kind.EXIT) {
      const x = JSON.parse(payload.toString('utf8')) as ExecExit;
      finish({ code: typeof x.code === 'number' ? x.code : null, signal: typeof x.signal === 'string' ? x.signal : null, ...(typeof x.error === 'string' ? { error: x.error } : {}) });
    } else throw new Error(`unexpected exec record ${kind} from ${peer}`);
  });
  stream.on('data', (b: Buffer) => {
    try {
      records.push(b);
    } catch (e) {
      stream.destroy(e as Error);
    }
  });
  stream.on('end', () => finish({ code: null, signal: null, error: `${peer} ended the command's stream without its exit status` }));
  stream.on('error', (e) => finish({ code: null, signal: null, error: e.message }));
  stream.on('close', () => finish({ code: null, signal: null, error: `${peer} closed the command's stream` }));
  stream.end(record(Kind.SPEC, JSON.stringify(spec)));
  return {
    output,
    exit: exited,
    kill: (reason) => {
      if (!exit) stream.destroy(new Error(reason));
    },
  };
}

/** Resolves when `s` drains or closes (no listener left behind either way). */
function drained(s: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** Agent end: read the spec, run the command here, stream its output and exit back. */
export function serveExec(stream: Duplex, opts: { enabled: boolean; run?: (spec: ExecSpec) => ExecProcess }): void {
  let proc: ExecProcess | null = null;
  let started = false;
  const records = new Records((kind, payload) => {
    if (kind !== Kind.SPEC || started) throw new Error(`unexpected exec record ${kind} from the gateway`);
    started = true;
    let spec: unknown;
    try {
      spec = JSON.parse(payload.toString('utf8'));
    } catch {
      spec = null;
    }
    const problem = opts.enabled ? specProblem(spec) : 'this agent does not run exec connections (started with --no-exec)';
    proc = problem ? failed(problem) : (opts.run ?? spawnLocal)(spec as ExecSpec);
    void pump(proc);
  });
  const pump = async (p: ExecProcess) => {
    for await (const c of p.output as AsyncIterable<OutputChunk>) {
      if (stream.destroyed) break;
      if (!stream.write(record(c.fd === 1 ? Kind.STDOUT : Kind.STDERR, c.data))) await drained(stream);
    }
    const x = await p.exit;
    if (!stream.destroyed) stream.end(record(Kind.EXIT, JSON.stringify(x)));
  };
  stream.on('data', (b: Buffer) => {
    try {
      records.push(b);
    } catch (e) {
      stream.destroy(e as Error);
    }
  });
  // The gateway aborted (its caller left) or the tunnel died: the command must not run on.
  stream.on('close', () => {
    const p = proc as ExecProcess | null;
    if (p) p.kill('the gateway closed the stream');
  });
  stream.on('error', () => {});
}
