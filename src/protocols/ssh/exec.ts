// `ssh <connection>@gateway '<command>'`: the command is judged and recorded before it runs;
// a blocked one is answered on stderr with exit status 1, a held one names its review and
// exits 3 (run it again once approved); an allowed one runs on the target over the gateway's
// own session, its output masked as it streams, its exit status or signal passed back and
// recorded with the output as the command's result.
import type { Client, ClientChannel, PseudoTtyInfo, ServerChannel } from 'ssh2';
import type { Logger } from 'pino';
import type { Session } from '../../session/session.ts';
import type { Decision } from '../../session/types.ts';
import { StringDecoder } from 'node:string_decoder';
import { MaskedOutput, terminalOutput } from './output.ts';
import { EchoTracker } from './echo.ts';
import { upstreamLost } from './upstream.ts';
import { shellCommands } from '../../policy/ssh-commands.ts';
import { runScp, scpRequest } from './scp.ts';
import { runSftp, sftpServerExec } from './sftp.ts';

export interface ChannelContext {
  session: Session;
  /** the gateway's session to the target (opened once per caller connection) */
  upstream(): Promise<Client>;
  /** bytes of output kept in the record per stream */
  keepBytes: number;
  /** SFTP and SCP: the size cap of one file transfer (the connection's fileTransfers) */
  fileTransfers: { maxBytes: number };
  log: Logger;
}

/** Exit status of a command the gateway refused (1) or held for review (3), as `warden exec` exits. */
export const EXIT_REFUSED = 1;
export const EXIT_HELD = 3;
/** the gateway could not reach the target: what OpenSSH's own client exits with on such errors */
export const EXIT_UNREACHABLE = 255;

/** The gateway's session to the target for an allowed command; null once the caller is told, and the record says, why there is none. */
export async function upstreamFor(ctx: ChannelContext, ch: ServerChannel, commandId: string, started: number, eol = '\n'): Promise<Client | null> {
  try {
    return await ctx.upstream();
  } catch (e) {
    const message = `cannot reach the target: ${(e as Error).message}`;
    ctx.session.result(commandId, { rowCount: 0, error: { message }, durationMs: Date.now() - started });
    endWith(ch, `warden: ${message}${eol}`, EXIT_UNREACHABLE);
    return null;
  }
}

/** A refusal in place, on the caller's stderr (no command reached the target). */
export function refuseOnChannel(ch: ServerChannel, d: Exclude<Decision, { action: 'allow' }>, eol = '\n'): void {
  const text =
    d.action === 'review'
      ? `warden: held for review ${d.reviewId}: ${d.message}${eol}warden: nothing ran; once it is approved, run the same command again${eol}`
      : `warden: ${d.reason}${eol}`;
  endWith(ch, text, d.action === 'review' ? EXIT_HELD : EXIT_REFUSED);
}

export function endWith(ch: ServerChannel, stderr: string, status: number): void {
  ch.stderr.write(stderr);
  ch.exit(status);
  ch.end();
  // a caller whose stdin stays open (ssh -tt) sends no EOF: close, do not wait for one
  ch.close();
}

/** What a session channel asked for before its command: a pty; the target's channel once open (for resizes and signals). */
export interface ChannelState {
  pty: PseudoTtyInfo | null;
  up: ClientChannel | null;
  /** the recording follows the caller's window size */
  onResize?(cols: number, rows: number): void;
}

export async function runExec(ctx: ChannelContext, ch: ServerChannel, command: string, state: ChannelState): Promise<void> {
  const pty = state.pty;
  const server = sftpServerExec(shellCommands(command));
  if (typeof server === 'string') return endWith(ch, `warden: ${server} is not available through Warden: nothing was sent\n`, EXIT_REFUSED);
  if (server) return runSftp(ctx, ch, command);
  // legacy scp: relayed and recorded per file (scp.ts)
  const scp = scpRequest(command);
  if (typeof scp === 'string') return endWith(ch, `warden: ${scp} is not available through Warden: nothing was sent\n`, EXIT_REFUSED);
  if (scp) return runScp(ctx, ch, command, scp);
  if (rsyncServer(command)) return endWith(ch, 'warden: file transfer (rsync) is not available through Warden: nothing was sent; use sftp or scp\n', EXIT_REFUSED);
  const started = Date.now();
  const decision = await ctx.session.command({ text: command, via: 'exec' });
  if (decision.action !== 'allow') return refuseOnChannel(ch, decision, pty ? '\r\n' : '\n');
  const client = await upstreamFor(ctx, ch, decision.commandId, started);
  if (!client) return;
  // Only the command and a pty: no environment (a caller's LD_PRELOAD or PATH never reaches the target).
  client.exec(command, pty ? { pty: { rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width, term: pty.term, modes: pty.modes } } : {}, (err, up) => {
    if (err) {
      const message = `the target refused the command: ${err.message}`;
      ctx.session.result(decision.commandId, { rowCount: 0, error: { message }, durationMs: Date.now() - started });
      return endWith(ch, `warden: ${message}\n`, EXIT_UNREACHABLE);
    }
    state.up = up;
    relay(ctx, ch, up, { commandId: decision.commandId, started, terminal: pty !== null, lost: () => upstreamLost(client) });
  });
}

/**
 * The server side of an rsync (`rsync --server`): its own protocol, not read here, so its
 * files would pass unrecorded: refused.
 */
function rsyncServer(command: string): boolean {
  const cmds = shellCommands(command);
  return typeof cmds !== 'string' && cmds.some((argv) => argv[0]!.split('/').pop() === 'rsync' && argv.includes('--server'));
}

/** Both directions of one channel, the output masked; the end recorded as the command's result. */
export function relay(ctx: ChannelContext, ch: ServerChannel, up: ClientChannel, a: { commandId: string; started: number; terminal: boolean; onOutput?(text: string): void; input?(data: Buffer): void; onClose?(): Promise<unknown>; drained?(): Promise<unknown>; resultRows?(out: MaskedOutput): (string | null)[][]; lost?(): string | undefined }): void {
  const idleFlushMs = a.terminal ? terminalOutput.idleFlushMs : 0;
  // a pty echoes the caller's keys on stdout: they need not wait for the idle time (echo.ts)
  const echo = a.terminal ? new EchoTracker() : undefined;
  const keys = new StringDecoder('utf8');
  // A slow caller slows the target (bounded memory): its channel's window is the limit.
  let paused = false;
  const sent = (ok: boolean, stream: NodeJS.EventEmitter) => {
    if (ok || paused) return;
    paused = true;
    up.pause();
    up.stderr.pause();
    stream.once('drain', () => {
      paused = false;
      up.resume();
      up.stderr.resume();
    });
  };
  const out = new MaskedOutput({ masker: ctx.session.masker, keepBytes: ctx.keepBytes, idleFlushMs, echo, write: (data, text) => {
    a.onOutput?.(text);
    sent(ch.write(data), ch);
  } });
  const err = new MaskedOutput({ masker: ctx.session.masker, keepBytes: ctx.keepBytes, idleFlushMs, write: (data) => sent(ch.stderr.write(data), ch.stderr) });
  let exit: { code?: number; signal?: string; dump?: boolean; desc?: string } = {};
  up.on('data', (b: Buffer) => out.push(b));
  up.stderr.on('data', (b: Buffer) => err.push(b));
  up.on('exit', (code: number | null, signal?: string, dump?: boolean, desc?: string) => {
    exit = code !== null && code !== undefined ? { code } : { signal, dump, desc };
  });
  ch.on('data', (b: Buffer) => {
    echo?.typed(keys.write(b));
    if (a.input) return a.input(b);
    if (!up.write(b)) {
      ch.pause();
      up.once('drain', () => ch.resume());
    }
  });
  // the caller's EOF goes after the input still being judged (a shell's queued lines)
  ch.on('end', () => void (a.drained ? a.drained().then(() => up.end()) : up.end()));
  let callerClosed = false;
  ch.on('close', () => {
    callerClosed = true;
    up.close();
  });
  let exited = false;
  up.on('exit', () => (exited = true));
  up.on('close', async () => {
    out.end();
    err.end();
    // Closed with no exit status, and not because the caller left: the connection to the
    // target dropped (a remote agent died, the target went away). The caller is told, and
    // gets no success status for it.
    const dropped = exited || callerClosed ? undefined : `the connection to the target was lost${a.lost?.() ? ` (${a.lost()})` : ''}; what ran there may have gone on or stopped`;
    if (dropped) {
      const nl = a.terminal ? '\r\n' : '\n';
      a.onOutput?.(`${nl}warden: ${dropped}${nl}`);
      ch.stderr.write(`${nl}warden: ${dropped}${nl}`);
    }
    await a.onClose?.();
    if (dropped) ch.exit(EXIT_UNREACHABLE);
    else if (exit.signal) ch.exit(exit.signal, exit.dump ?? false, exit.desc ?? '');
    else ch.exit(exit.code ?? 0);
    ch.end();
    const masked = out.masked || err.masked;
    ctx.session.result(a.commandId, {
      columns: [{ name: 'stream' }, { name: 'output' }],
      rows: a.resultRows ? a.resultRows(out) : [['stdout', out.kept], ['stderr', err.kept]],
      rowCount: a.resultRows ? 1 : 2,
      truncated: out.truncated || err.truncated,
      ...(masked ? { maskedColumns: ['output'] } : {}),
      tag: dropped ? 'lost' : exit.signal ? `signal ${exit.signal}` : `exit ${exit.code ?? 0}`,
      ...(dropped ? { error: { message: dropped } } : {}),
      durationMs: Date.now() - a.started,
    });
  });
}
