// Legacy SCP (`scp -O`): the caller's scp runs `scp -t <path>` (upload) or `scp -f <path>...`
// (download) on the target through an exec. The exec is judged as `put <path>` / `get <path>`;
// then the scp protocol is relayed while read: the source (the side sending files) sends lines
// (`C<mode> <size> <name>` a file of that size, `D<mode> 0 <name>` into a directory, `E` out of
// it, `T...` times, `\x01`/`\x02` an error) and file bytes, the sink answers each with an ack
// (`\0`, or `\x01`/`\x02` and a message). Each file is judged (`put`/`get` with its full path,
// `mkdir` for a directory uploaded) before its line passes and recorded as a transfer (transfer.ts).
// A refused or oversized file never moves: an upload is answered `\x01warden: ...` (the caller's
// scp skips it), a download is acknowledged to the target by the gateway, its bytes dropped,
// and the caller told. The relay waits for each ack before reading on, as scp itself does, so
// what it has read is what the sink has accepted. `rsync --server` stays refused (exec.ts).
import { posix } from 'node:path';
import type { Client, ClientChannel, ServerChannel } from 'ssh2';
import { shellCommands } from '../../policy/ssh-commands.ts';
import { endWith, EXIT_UNREACHABLE, refuseOnChannel, type ChannelContext } from './exec.ts';
import { absolutePath, homeOf, isAbsolute, isDirectoryOn } from './remote-path.ts';
import { Transfer } from './transfer.ts';

export interface ScpRequest {
  /** -t: the target receives (an upload); -f: it sends (a download) */
  sink: boolean;
  paths: string[];
  /** a path the target's shell would expand (a pattern, `$`, `~`): what it names is not known here */
  opaque?: string;
}

/** the longest protocol line read (a name is at most a few KiB on any filesystem) */
const MAX_LINE = 64 * 1024;
const QUEUE_HIGH = 32;

/** An exec that is the target's end of a legacy scp; a string says why it is refused; null: not scp. */
export function scpRequest(command: string): ScpRequest | string | null {
  const cmds = shellCommands(command);
  if (typeof cmds === 'string') return null;
  const at = cmds.findIndex((argv) => argv[0]!.split('/').pop() === 'scp' && argv.some((a) => /^-[a-zA-Z]*[tf]/.test(a)));
  if (at === -1) return null;
  if (cmds.length !== 1) return 'an scp transfer chained with other commands';
  const argv = cmds[0]!;
  let sink = false;
  let source = false;
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (const f of a.slice(1)) {
      if (f === 't') sink = true;
      else if (f === 'f') source = true;
      // -r recursive, -d the target must be a directory, -p times, -v verbose, -q quiet
      else if (!'rdpvq'.includes(f)) return `scp option -${f}`;
    }
  }
  const paths = argv.slice(i);
  if (sink === source) return 'scp with both -t and -f';
  if (!paths.length || (sink && paths.length !== 1)) return `scp -${sink ? 't' : 'f'} with ${paths.length} paths`;
  const expands = paths.find((p) => /^~|[*?[\]{}$]/.test(p));
  return { sink, paths, ...(expands ? { opaque: `the scp path ${expands} is expanded by the target's shell: what it names is not known here` } : {}) };
}

export async function runScp(ctx: ChannelContext, ch: ServerChannel, command: string, req: ScpRequest): Promise<void> {
  const started = Date.now();
  const unreachable = (e: Error, commandId?: string) => {
    const message = `cannot reach the target: ${e.message}`;
    if (commandId) ctx.session.result(commandId, { rowCount: 0, error: { message }, durationMs: Date.now() - started });
    endWith(ch, `warden: ${message}\n`, EXIT_UNREACHABLE);
  };
  let paths: string[];
  try {
    // as the target's scp reads them: relative to the account's home
    const home = req.paths.every(isAbsolute) ? '/' : await homeOf(await ctx.upstream());
    paths = req.paths.map((p) => absolutePath(p, home));
  } catch (e) {
    return unreachable(e as Error);
  }
  const op = req.sink ? 'put' : 'get';
  const decision = await ctx.session.command({ text: command, via: 'scp', ...(req.opaque ? { opaque: req.opaque } : { file: { ops: paths.map((p) => [op, p]) } }) });
  if (decision.action !== 'allow') return refuseOnChannel(ch, decision);
  let client: Client;
  let targetIsDir = false;
  try {
    client = await ctx.upstream();
    // `scp -t x` writes into x when it is a directory, else as x
    if (req.sink) targetIsDir = await isDirectoryOn(client, paths[0]!);
  } catch (e) {
    return unreachable(e as Error, decision.commandId);
  }
  client.exec(command, (err, up) => {
    if (err) return unreachable(new Error(`the target refused the command: ${err.message}`), decision.commandId);
    new ScpRelay(ctx, ch, up, req.sink, paths, targetIsDir, decision.commandId, started).start();
  });
}

class ScpMalformed extends Error {}

type State = { s: 'line' } | { s: 'data'; t: Transfer | null; left: number } | { s: 'status'; t: Transfer | null };

class ScpRelay {
  private readonly chunks: Buffer[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private state: State = { s: 'line' };
  private busy = false;
  private paused = false;
  private sinkPaused = false;
  private closed = false;
  private failure: string | null = null;
  private exit: { code?: number; signal?: string } = {};
  /** full paths of the directories the transfer is in */
  private readonly dirs: string[] = [];
  /** download: the argument the next top-level item comes from */
  private arg = 0;
  private files = 0;
  private ackBuf: Buffer = Buffer.alloc(0);
  private waiter: ((ack: { ok: boolean; message: string }) => void) | null = null;
  private current: Transfer | null = null;
  /** the side sending files and the side acknowledging them */
  private readonly source: ServerChannel | ClientChannel;
  private readonly sinkSide: ServerChannel | ClientChannel;

  constructor(
    private readonly ctx: ChannelContext,
    private readonly ch: ServerChannel,
    private readonly up: ClientChannel,
    private readonly upload: boolean,
    private readonly paths: string[],
    private readonly targetIsDir: boolean,
    private readonly commandId: string,
    private readonly started: number,
  ) {
    this.source = upload ? ch : up;
    this.sinkSide = upload ? up : ch;
  }

  start(): void {
    const { ch, up } = this;
    this.source.on('data', (b: Buffer) => {
      if (this.closed) return;
      this.chunks.push(b);
      if (this.chunks.length >= QUEUE_HIGH && !this.paused) {
        this.paused = true;
        this.source.pause();
      }
      void this.pump();
    });
    this.sinkSide.on('data', (b: Buffer) => {
      if (this.closed) return;
      try {
        this.acks(b);
      } catch (e) {
        this.broken(e as Error);
      }
    });
    up.stderr.on('data', (b: Buffer) => ch.stderr.write(b));
    up.on('exit', (code: number | null, signal?: string) => (this.exit = code !== null && code !== undefined ? { code } : { signal: signal ?? 'KILL' }));
    ch.on('end', () => void this.drained().then(() => up.end()));
    ch.on('close', () => up.close());
    up.on('close', () => this.finish());
  }

  private async drained(): Promise<void> {
    while (!this.closed && (this.busy || this.chunks.length)) await new Promise((r) => setTimeout(r, 5));
  }

  /** where lines and file bytes go, and where acks go */
  private toSink(b: Buffer | string): Promise<void> | void {
    const s = this.upload ? this.up : this.ch;
    if (s.write(b)) return;
    return new Promise((resolve) => s.once('drain', () => resolve()));
  }

  /** acks (and the gateway's own answers) to the source; a source that does not read them stops the sink being read */
  private toSource(b: Buffer | string): void {
    const s = this.upload ? this.ch : this.up;
    if (s.write(b) || this.sinkPaused) return;
    this.sinkPaused = true;
    this.sinkSide.pause();
    s.once('drain', () => {
      this.sinkPaused = false;
      this.sinkSide.resume();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed) {
        if (this.chunks.length) {
          this.buf = this.buf.length ? Buffer.concat([this.buf, ...this.chunks]) : this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
          this.chunks.length = 0;
          if (this.paused) {
            this.paused = false;
            this.source.resume();
          }
        }
        if (!this.buf.length || !(await this.step())) break;
      }
    } catch (e) {
      this.broken(e as Error);
    } finally {
      this.busy = false;
    }
    if (this.chunks.length && !this.closed) void this.pump();
  }

  /** Take what the state can from buf; false when it needs more bytes. */
  private async step(): Promise<boolean> {
    const st = this.state;
    if (st.s === 'data') {
      const n = Math.min(st.left, this.buf.length);
      const part = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      st.left -= n;
      if (st.t) {
        st.t.add(st.t.bytes, part);
        await this.toSink(part);
      }
      if (st.left === 0) this.state = { s: 'status', t: st.t };
      return true;
    }
    if (st.s === 'status') {
      this.state = { s: 'line' };
      if (this.buf[0] !== 0) {
        // the source could not read the whole file: its error line follows
        if (st.t) this.done(st.t, false, 'the source could not read the whole file');
        return true;
      }
      this.buf = this.buf.subarray(1);
      if (!st.t) {
        this.toSource(Buffer.from([0])); // a dropped download: the gateway acknowledges it
        return true;
      }
      const ack = await this.sendAndAck(Buffer.from([0]));
      this.done(st.t, ack.ok, ack.message);
      return true;
    }
    const nl = this.buf.indexOf(10);
    if (nl === -1) {
      if (this.buf.length > MAX_LINE) throw new ScpMalformed(`an scp line longer than ${MAX_LINE} bytes`);
      return false;
    }
    const raw = this.buf.subarray(0, nl + 1);
    this.buf = this.buf.subarray(nl + 1);
    await this.line(raw, raw.subarray(0, nl).toString('utf8'));
    return true;
  }

  private async line(raw: Buffer, line: string): Promise<void> {
    const kind = line[0];
    if (kind === '\x01' || kind === '\x02') {
      if (!this.dirs.length) this.arg++;
      return this.toSink(raw);
    }
    if (kind === 'T') {
      if (!/^T\d+ \d+ \d+ \d+$/.test(line)) throw new ScpMalformed('a malformed scp T line');
      await this.sendAndAck(raw);
      return;
    }
    if (kind === 'E') {
      if (line !== 'E' || !this.dirs.length) throw new ScpMalformed('an scp E line outside a directory');
      this.dirs.pop();
      await this.sendAndAck(raw);
      return;
    }
    const m = /^([CD])([0-7]{4}) (\d+) (.+)$/.exec(line);
    if (!m || m[4] === '.' || m[4] === '..' || m[4]!.includes('/')) throw new ScpMalformed(`a malformed scp line (${JSON.stringify(line.slice(0, 80))})`);
    const name = m[4]!;
    const size = Number(m[3]);
    if (!Number.isSafeInteger(size)) throw new ScpMalformed('an scp file size past 2^53');
    const path = this.pathOf(name);
    const ops = m[1] === 'D' ? (this.upload ? 'mkdir' : null) : this.upload ? 'put' : 'get';
    if (m[1] === 'D') {
      if (ops) {
        const d = await this.ctx.session.command({ text: `mkdir ${path}`, via: 'scp', file: { ops: [['mkdir', path]] } });
        if (d.action !== 'allow') return this.refuse(0, refusalText(d));
      }
      if ((await this.sendAndAck(raw)).ok) this.dirs.push(path);
      return;
    }
    const d = await this.ctx.session.command({ text: `${ops} ${path}`, via: 'scp', file: { ops: [[ops!, path]] } });
    if (d.action !== 'allow') return this.refuse(size, refusalText(d));
    const t = new Transfer(this.ctx.session, d.commandId, path, this.upload ? 'upload' : 'download', this.ctx.fileTransfers.maxBytes);
    this.files++;
    if (t.exceeds(0, size)) {
      t.cap();
      t.finish();
      return this.refuse(size, t.error!);
    }
    this.current = t;
    const ack = await this.sendAndAck(raw);
    if (!ack.ok) return this.done(t, false, ack.message);
    this.state = size ? { s: 'data', t, left: size } : { s: 'status', t };
  }

  /** The full path of a C or D line's name, as the target's scp makes it. */
  private pathOf(name: string): string {
    if (this.dirs.length) return posix.join(this.dirs.at(-1)!, name);
    if (this.upload) return this.targetIsDir ? posix.join(this.paths[0]!, name) : this.paths[0]!;
    const arg = this.paths[Math.min(this.arg++, this.paths.length - 1)]!;
    return posix.join(posix.dirname(arg), name);
  }

  /** A file or directory that does not move: the source is told (upload) or its bytes dropped (download). */
  private async refuse(size: number, why: string): Promise<void> {
    // the session ended (its credential was revoked or expired): so does the transfer
    if (this.ctx.session.isEnded) {
      this.ch.stderr.write(`warden: ${why}\n`);
      this.failure = why;
      this.closed = true;
      this.up.close();
      return;
    }
    const text = `\x01warden: ${why.replace(/\n/g, ' ')}\n`;
    if (this.upload) return this.toSource(text); // scp skips a file its sink refused
    this.toSource(Buffer.from([0])); // the target sends the bytes, to nobody
    await this.toSink(text);
    this.state = size ? { s: 'data', t: null, left: size } : { s: 'status', t: null };
  }

  private done(t: Transfer, ok: boolean, message: string): void {
    if (!ok) t.fail(message || 'the sink refused the file');
    t.finish();
    if (this.current === t) this.current = null;
  }

  /** Send to the sink and wait for its ack (the relay reads no further until it comes, as scp's source waits). */
  private async sendAndAck(b: Buffer): Promise<{ ok: boolean; message: string }> {
    const acked = new Promise<{ ok: boolean; message: string }>((resolve) => (this.waiter = resolve));
    await this.toSink(b);
    return acked;
  }

  private acks(b: Buffer): void {
    this.ackBuf = this.ackBuf.length ? Buffer.concat([this.ackBuf, b]) : b;
    while (this.ackBuf.length) {
      const c = this.ackBuf[0]!;
      let raw: Buffer;
      let ack: { ok: boolean; message: string };
      if (c === 0) {
        raw = this.ackBuf.subarray(0, 1);
        ack = { ok: true, message: '' };
      } else if (c === 1 || c === 2) {
        const nl = this.ackBuf.indexOf(10);
        if (nl === -1) {
          if (this.ackBuf.length > MAX_LINE) throw new ScpMalformed(`an scp error line longer than ${MAX_LINE} bytes`);
          return;
        }
        raw = this.ackBuf.subarray(0, nl + 1);
        ack = { ok: false, message: raw.subarray(1, nl).toString('utf8') };
      } else throw new ScpMalformed(`an scp answer that is no ack (byte ${c})`);
      this.ackBuf = this.ackBuf.subarray(raw.length);
      this.toSource(raw);
      const w = this.waiter;
      this.waiter = null;
      w?.(ack);
    }
  }

  private broken(e: Error): void {
    if (this.closed) return;
    this.failure = e instanceof ScpMalformed ? `${e.message}: the transfer was stopped` : `internal error: ${e.message}`;
    if (!(e instanceof ScpMalformed)) this.ctx.log.error({ err: e.message }, 'scp relay failed');
    this.ch.stderr.write(`warden: ${this.failure}\n`);
    this.closed = true;
    this.up.close();
  }

  private finish(): void {
    this.closed = true;
    this.current?.finish('incomplete');
    this.waiter?.({ ok: false, message: 'the session ended' });
    if (this.exit.signal) this.ch.exit(this.exit.signal, false, '');
    else this.ch.exit(this.failure ? 1 : (this.exit.code ?? 0));
    this.ch.end();
    this.ch.close();
    this.ctx.session.result(this.commandId, {
      rowCount: this.files,
      tag: this.exit.signal ? `signal ${this.exit.signal}` : `exit ${this.exit.code ?? 0}`,
      ...(this.failure ? { error: { message: this.failure } } : {}),
      durationMs: Date.now() - this.started,
    });
  }
}

function refusalText(d: { action: 'block'; reason: string } | { action: 'review'; reviewId: string; message: string }): string {
  return d.action === 'review' ? `held for review ${d.reviewId}: ${d.message} (nothing was copied; once approved, copy it again)` : d.reason;
}
