// The SFTP reader between a caller and the target's sftp-server (see sftp.ts): client
// requests pass one at a time (judged when they name a path, checked against the handles the
// target gave), the target's replies are read as they pass (handles, data, statuses).
import { posix } from 'node:path';
import type { Client, ClientChannel, ServerChannel } from 'ssh2';
import type { Decision } from '../../session/types.ts';
import type { ChannelContext } from './exec.ts';
import { FX, PFLAG, SftpFramer, SftpMalformed, SftpReader, STATUS, statusPacket } from './sftp-codec.ts';
import { absolutePath, homeOf, isAbsolute } from './remote-path.ts';
import { ReorderBudget, Transfer } from './transfer.ts';

interface Handle {
  path: string;
  dir: boolean;
  readable: boolean;
  writable: boolean;
  transfer: Transfer | null;
  commandId: string;
  closing: boolean;
  entries: number;
  started: number;
}

type Pending =
  | { kind: 'open'; path: string; dir: boolean; readable: boolean; writable: boolean; commandId: string; started: number }
  | { kind: 'read'; handle: Handle; offset: number }
  | { kind: 'readdir'; handle: Handle }
  | { kind: 'write'; handle: Handle }
  | { kind: 'close'; handle: Handle; key: string }
  | { kind: 'change'; commandId: string; started: number }
  | { kind: 'other' };

/** Extensions that only read, passed unjudged (a handle one must name a handle of this channel). */
const READ_EXTENSIONS = new Set(['statvfs@openssh.com', 'expand-path@openssh.com', 'limits@openssh.com', 'home-directory', 'users-groups-by-id@openssh.com']);
const HANDLE_EXTENSIONS = new Set(['fstatvfs@openssh.com', 'fsync@openssh.com']);
/** the client queue length at which its channel is paused (the target's window is the limit) */
const QUEUE_HIGH = 64;

export class SftpRelay {
  private readonly fromClient = new SftpFramer();
  private readonly fromTarget = new SftpFramer();
  private readonly queue: Buffer[] = [];
  private busy = false;
  private paused = false;
  private upPaused = false;
  private readonly pending = new Map<number, Pending>();
  private readonly handles = new Map<string, Handle>();
  private home: string | null = null;
  private files = 0;
  private failure: string | null = null;
  private closed = false;
  private exit: number | undefined;
  private readonly reorder = new ReorderBudget();

  constructor(
    private readonly ctx: ChannelContext,
    private readonly ch: ServerChannel,
    private readonly up: ClientChannel,
    private readonly client: Client,
    private readonly commandId: string,
    private readonly started: number,
  ) {}

  start(): void {
    const { ch, up } = this;
    ch.on('data', (b: Buffer) => {
      if (this.closed) return;
      try {
        this.queue.push(...this.fromClient.push(b));
      } catch (e) {
        return this.broken(e as Error);
      }
      if (this.queue.length >= QUEUE_HIGH && !this.paused) {
        this.paused = true;
        ch.pause();
      }
      void this.pump();
    });
    up.on('data', (b: Buffer) => {
      if (this.closed) return;
      try {
        for (const p of this.fromTarget.push(b)) {
          const out = this.fromTargetPacket(p);
          // a caller that does not read slows the target (its window is the limit)
          if (!ch.write(out) && !this.upPaused) {
            this.upPaused = true;
            up.pause();
            ch.once('drain', () => {
              this.upPaused = false;
              up.resume();
            });
          }
        }
      } catch (e) {
        this.broken(e as Error);
      }
    });
    up.stderr.on('data', (b: Buffer) => ch.stderr.write(b));
    up.on('exit', (code: number | null) => (this.exit = code ?? undefined));
    ch.on('end', () => void this.drained().then(() => up.end()));
    ch.on('close', () => up.close());
    up.on('close', () => this.finish());
  }

  private async drained(): Promise<void> {
    while (!this.closed && (this.busy || this.queue.length)) await new Promise((r) => setTimeout(r, 5));
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.closed) {
        const p = this.queue.shift()!;
        await this.fromClientPacket(p);
        if (this.paused && this.queue.length < QUEUE_HIGH / 2) {
          this.paused = false;
          this.ch.resume();
        }
      }
    } catch (e) {
      this.broken(e as Error);
    } finally {
      this.busy = false;
    }
  }

  /** Bad input: this channel closes with the reason on its stderr; the gateway goes on. */
  private broken(e: Error): void {
    if (this.closed) return;
    if (!(e instanceof SftpMalformed)) this.ctx.log.error({ err: e.message }, 'sftp relay failed');
    this.failure = e instanceof SftpMalformed ? `${e.message}: the SFTP channel was closed` : `internal error: ${e.message}`;
    this.ch.stderr.write(`warden: ${this.failure}\n`);
    this.closed = true;
    this.queue.length = 0;
    this.up.close();
    this.ch.close();
  }

  private finish(): void {
    this.closed = true;
    for (const h of this.handles.values()) this.endHandle(h, 'incomplete');
    this.handles.clear();
    for (const p of this.pending.values()) {
      if (p.kind === 'open' || p.kind === 'change') this.ctx.session.result(p.commandId, { rowCount: 0, error: { message: 'the session ended before the target answered' }, durationMs: Date.now() - p.started });
    }
    this.pending.clear();
    if (this.exit !== undefined) this.ch.exit(this.exit);
    this.ch.end();
    this.ch.close();
    this.ctx.session.result(this.commandId, {
      rowCount: this.files,
      tag: `${this.files} file${this.files === 1 ? '' : 's'} opened`,
      ...(this.failure ? { error: { message: this.failure } } : {}),
      durationMs: Date.now() - this.started,
    });
  }

  private toTarget(p: Buffer): Promise<void> | void {
    if (this.up.write(p)) return;
    return new Promise((resolve) => this.up.once('drain', resolve));
  }

  /** A reply of the gateway's own; a caller that does not read its replies stops being read too. */
  private answer(id: number, code: number, message: string): Promise<void> | void {
    if (this.ch.write(statusPacket(id, code, message))) return;
    return new Promise((resolve) => this.ch.once('drain', () => resolve()));
  }

  private async path(raw: string): Promise<string> {
    if (isAbsolute(raw)) return absolutePath(raw, '/');
    this.home ??= await homeOf(this.client);
    return absolutePath(raw, this.home);
  }

  /**
   * Judge one operation on its paths; the request is answered here (and dropped) unless
   * allowed. Each path is its own statement (`rename /a`, `rename /b`): an allow rule must
   * meet every one, a block rule any, and no glob spans from one path into the other.
   */
  private async judge(id: number, op: string, paths: string[]): Promise<string | null> {
    const d = await this.ctx.session.command({ text: [op, ...paths].join(' '), via: 'sftp', file: { ops: paths.map((p) => [op, p]) } });
    if (d.action === 'allow') return d.commandId;
    const why = refusal(d);
    await this.answer(id, STATUS.PERMISSION_DENIED, why);
    // OpenSSH's sftp shows a status's code only; what the channel writes on stderr it shows whole
    this.ch.stderr.write(`${why}\n`);
    // the session ended (its credential was revoked or expired): so does the channel, open files too
    if (this.ctx.session.isEnded) this.up.close();
    return null;
  }

  private handle(r: SftpReader): { key: string; h: Handle | undefined } {
    const key = r.bytes().toString('latin1');
    const h = this.handles.get(key);
    return { key, h: h && !h.closing ? h : undefined };
  }

  private async fromClientPacket(p: Buffer): Promise<void> {
    const r = new SftpReader(p);
    if (r.type === FX.INIT) return this.toTarget(p);
    const id = r.u32();
    // replies are matched by id: one reused while it is still open would confuse what a reply means
    if (this.pending.has(id)) throw new SftpMalformed(`SFTP request id ${id} reused before the target answered it`);
    const forward = (pending: Pending) => {
      this.pending.set(id, pending);
      return this.toTarget(p);
    };
    const unknownHandle = () => this.answer(id, STATUS.FAILURE, 'warden: no such handle on this channel');
    const paths = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(await this.path(r.path()));
      return out;
    };
    const change = async (op: string, n: number) => {
      let ps: string[];
      try {
        ps = await paths(n);
      } catch (e) {
        if (e instanceof SftpMalformed) throw e;
        return this.answer(id, STATUS.FAILURE, `warden: ${(e as Error).message}`);
      }
      const commandId = await this.judge(id, op, ps);
      if (commandId) return forward({ kind: 'change', commandId, started: Date.now() });
    };
    switch (r.type) {
      case FX.OPEN:
      case FX.OPENDIR: {
        const raw = r.path();
        const flags = r.type === FX.OPEN ? r.u32() : 0;
        const dir = r.type === FX.OPENDIR;
        const writable = (flags & (PFLAG.WRITE | PFLAG.APPEND | PFLAG.CREAT | PFLAG.TRUNC)) !== 0;
        let path: string;
        try {
          path = await this.path(raw);
        } catch (e) {
          return this.answer(id, STATUS.FAILURE, `warden: ${(e as Error).message}`);
        }
        const commandId = await this.judge(id, dir ? 'ls' : writable ? 'put' : 'get', [path]);
        if (!commandId) return;
        return forward({ kind: 'open', path, dir, readable: !dir && !writable, writable, commandId, started: Date.now() });
      }
      case FX.READ: {
        const { h } = this.handle(r);
        const offset = r.u64();
        r.u32();
        if (!h || h.dir) return unknownHandle();
        if (!h.readable) return this.answer(id, STATUS.PERMISSION_DENIED, 'warden: this handle was not opened for reading');
        if (h.transfer!.capped) return this.answer(id, STATUS.FAILURE, `warden: ${h.transfer!.error}`);
        return forward({ kind: 'read', handle: h, offset });
      }
      case FX.WRITE: {
        const { h } = this.handle(r);
        const offset = r.u64();
        const data = r.bytes();
        if (!h || h.dir) return unknownHandle();
        if (!h.writable) return this.answer(id, STATUS.PERMISSION_DENIED, 'warden: this handle was not opened for writing');
        const t = h.transfer!;
        if (t.capped || t.exceeds(offset, data.length)) {
          t.cap();
          return this.answer(id, STATUS.FAILURE, `warden: ${t.error}`);
        }
        t.add(offset, data);
        return forward({ kind: 'write', handle: h });
      }
      case FX.CLOSE: {
        const { key, h } = this.handle(r);
        if (!h) return unknownHandle();
        h.closing = true;
        return forward({ kind: 'close', handle: h, key });
      }
      case FX.READDIR: {
        const { h } = this.handle(r);
        if (!h || !h.dir) return unknownHandle();
        return forward({ kind: 'readdir', handle: h });
      }
      case FX.FSTAT: {
        const { h } = this.handle(r);
        if (!h) return unknownHandle();
        return forward({ kind: 'other' });
      }
      case FX.FSETSTAT: {
        const { h } = this.handle(r);
        if (!h) return unknownHandle();
        const commandId = await this.judge(id, 'setstat', [h.path]);
        if (commandId) return forward({ kind: 'change', commandId, started: Date.now() });
        return;
      }
      case FX.LSTAT:
      case FX.STAT:
      case FX.REALPATH:
      case FX.READLINK:
        r.path();
        return forward({ kind: 'other' });
      case FX.SETSTAT:
        return change('setstat', 1);
      case FX.REMOVE:
        return change('rm', 1);
      case FX.MKDIR:
        return change('mkdir', 1);
      case FX.RMDIR:
        return change('rmdir', 1);
      case FX.RENAME:
        return change('rename', 2);
      case FX.SYMLINK: {
        // OpenSSH sends the link's target first, then the link (the draft's order reversed);
        // a relative target is read from the link's directory, as the filesystem will
        const target = r.path();
        const link = await this.path(r.path()).catch((e: Error) => e);
        if (link instanceof Error) return this.answer(id, STATUS.FAILURE, `warden: ${link.message}`);
        const commandId = await this.judge(id, 'symlink', [absolutePath(target, posix.dirname(link)), link]);
        if (commandId) return forward({ kind: 'change', commandId, started: Date.now() });
        return;
      }
      case FX.EXTENDED: {
        const name = r.bytes().toString('latin1');
        if (name === 'posix-rename@openssh.com') return change('rename', 2);
        if (name === 'hardlink@openssh.com') return change('link', 2);
        if (name === 'lsetstat@openssh.com') return change('setstat', 1);
        if (READ_EXTENSIONS.has(name)) return forward({ kind: 'other' });
        if (HANDLE_EXTENSIONS.has(name)) return this.handle(r).h ? forward({ kind: 'other' }) : unknownHandle();
        // copy-data and the rest: what they do is not seen here
        return this.answer(id, STATUS.OP_UNSUPPORTED, `warden: the SFTP extension "${name.slice(0, 100)}" is not available through Warden`);
      }
      default:
        return this.answer(id, STATUS.OP_UNSUPPORTED, `warden: SFTP request type ${r.type} is not available through Warden`);
    }
  }

  /** A packet of the target's, read (handles, data, statuses) and passed on, or replaced by a refusal. */
  private fromTargetPacket(p: Buffer): Buffer {
    const r = new SftpReader(p);
    if (r.type === FX.VERSION) {
      const v = r.u32();
      if (v !== 3) throw new SftpMalformed(`the target answered with SFTP version ${v}; Warden reads version 3 only`);
      return p;
    }
    const id = r.u32();
    const pending = this.pending.get(id);
    if (!pending) return p;
    this.pending.delete(id);
    const status = () => (r.type === FX.STATUS ? { code: r.u32(), message: r.bytes().toString('utf8') } : null);
    switch (pending.kind) {
      case 'open': {
        if (r.type !== FX.HANDLE) {
          const s = status();
          this.ctx.session.result(pending.commandId, { rowCount: 0, error: { message: s?.message || `SFTP status ${s?.code ?? r.type}` }, durationMs: Date.now() - pending.started });
          return p;
        }
        const key = r.bytes().toString('latin1');
        if (this.handles.has(key)) throw new SftpMalformed('the target gave out a handle that is still open');
        const transfer = pending.dir ? null : new Transfer(this.ctx.session, pending.commandId, pending.path, pending.writable ? 'upload' : 'download', this.ctx.fileTransfers.maxBytes, this.reorder);
        if (transfer) this.files++;
        this.handles.set(key, { path: pending.path, dir: pending.dir, readable: pending.readable, writable: pending.writable, transfer, commandId: pending.commandId, closing: false, entries: 0, started: pending.started });
        return p;
      }
      case 'read': {
        const t = pending.handle.transfer!;
        if (r.type === FX.DATA) {
          const data = r.bytes();
          if (t.capped || t.exceeds(pending.offset, data.length)) {
            t.cap();
            return statusPacket(id, STATUS.FAILURE, `warden: ${t.error}`);
          }
          t.add(pending.offset, data);
          return p;
        }
        const s = status();
        if (s && s.code !== STATUS.EOF) t.fail(s.message || `SFTP status ${s.code}`);
        return p;
      }
      case 'write': {
        const s = status();
        if (!s || s.code !== STATUS.OK) pending.handle.transfer!.fail(s?.message || 'the target did not confirm a write');
        return p;
      }
      case 'readdir':
        if (r.type === FX.NAME) pending.handle.entries += r.u32();
        return p;
      case 'close': {
        this.handles.delete(pending.key);
        this.endHandle(pending.handle);
        // the target closed a file the gateway cut short: the caller is told it is not whole
        // (OpenSSH's sftp can miss a failed write among pipelined ones)
        const t = pending.handle.transfer;
        return t?.capped && r.type === FX.STATUS && r.u32() === STATUS.OK ? statusPacket(id, STATUS.FAILURE, `warden: ${t.error}`) : p;
      }
      case 'change': {
        const s = status();
        const ok = s?.code === STATUS.OK;
        this.ctx.session.result(pending.commandId, { rowCount: 0, tag: ok ? 'OK' : undefined, ...(ok ? {} : { error: { message: s?.message || `SFTP reply ${r.type}` } }), durationMs: Date.now() - pending.started });
        return p;
      }
      default:
        return p;
    }
  }

  private endHandle(h: Handle, status?: 'incomplete'): void {
    if (h.transfer) return h.transfer.finish(status);
    this.ctx.session.result(h.commandId, { rowCount: h.entries, tag: `${h.entries} entries`, durationMs: Date.now() - h.started });
  }
}

function refusal(d: Exclude<Decision, { action: 'allow' }>): string {
  return d.action === 'review' ? `warden: held for review ${d.reviewId}: ${d.message}; nothing was done: once it is approved, do it again` : `warden: ${d.reason}`;
}
