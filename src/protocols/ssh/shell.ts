// An interactive shell on a pty. Opening it is judged as the command `(shell)` (rules see
// the words `shell`); the terminal's output is masked before it reaches the caller and the
// recording (asciicast v2 in <dataDir>/recordings). Lines typed at the prompt are recorded
// as commands and judged where they can be known (line-tracker.ts): such a line's Enter is
// held until it is decided; a refused line is cancelled with Ctrl-C and the reason shown.
// Lines that cannot be known (edited, completed, in a full-screen app, not echoed) pass
// unjudged and show only in the recording. A shell without a pty is refused: its input is
// a script that nothing could judge line by line.
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { ServerChannel } from 'ssh2';
import { endWith, EXIT_REFUSED, EXIT_UNREACHABLE, refuseOnChannel, relay, upstreamFor, type ChannelContext, type ChannelState } from './exec.ts';
import { AsciicastWriter } from './asciicast.ts';
import { upstreamLost } from './upstream.ts';
import { LineTracker } from './line-tracker.ts';
import type { Decision } from '../../session/types.ts';

/** how long a typed line may take to show on the terminal before it counts as not echoed */
const ECHO_WAIT_MS = 1500;
let shells = 0;

export async function runShell(ctx: ChannelContext, ch: ServerChannel, state: ChannelState, dir: string): Promise<void> {
  const pty = state.pty;
  if (!pty) return endWith(ch, "warden: a shell needs a terminal (ssh -t); without one, give the command: ssh <connection>@<gateway> '<command>'\n", EXIT_REFUSED);
  const started = Date.now();
  const decision = await ctx.session.command({ text: '(shell)', via: 'shell' });
  if (decision.action !== 'allow') return refuseOnChannel(ch, decision, '\r\n');
  const client = await upstreamFor(ctx, ch, decision.commandId, started, '\r\n');
  if (!client) return;
  client.shell({ rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width, term: pty.term, modes: pty.modes }, (err, up) => {
    if (err) {
      ctx.session.result(decision.commandId, { rowCount: 0, error: { message: err.message }, durationMs: Date.now() - started });
      return endWith(ch, `warden: the target refused the shell: ${err.message}\r\n`, EXIT_UNREACHABLE);
    }
    state.up = up;
    const cast = new AsciicastWriter(join(dir, ctx.session.info.id.slice(0, 2)), `${ctx.session.info.id}-${++shells}`, { width: pty.cols || 80, height: pty.rows || 24, term: pty.term, title: `${ctx.session.info.connection} as ${ctx.session.info.identity.name}` });
    // markers tie the recording to the commands: `sessions show --play --from <command>` starts there
    cast.marker(decision.commandId);
    state.onResize = (cols, rows) => cast.resize(cols, rows);
    const tracker = new LineTracker();
    const say = (text: string) => {
      ch.write(text);
      cast.output(text);
    };
    const decoder = new StringDecoder('utf8');
    let queue: Promise<void> = Promise.resolve();
    const typed = async (text: string) => {
      for (const seg of tracker.input(text)) {
        if (seg.before) up.write(seg.before);
        if (!seg.enter) continue;
        const line = seg.line?.trim();
        // the terminal echoes it masked (an email shows as [EMAIL]), and so it is kept
        const shown = seg.line ? (ctx.session.masker?.maskText(seg.line) ?? seg.line) : '';
        if (line && (await until(() => tracker.echoed(seg.line!) || tracker.echoed(shown), ECHO_WAIT_MS))) {
          cast.input(`${shown}\r`);
          const d = await ctx.session.command({ text: line, via: 'shell-line' });
          if (d.commandId) cast.marker(d.commandId);
          if (d.action !== 'allow') {
            up.write('\x03'); // the shell drops the typed line
            tracker.nextLine();
            say(`\r\n${refusalText(d)}\r\n`);
            // the session ended (its credential was revoked or expired): so does the shell
            if (ctx.session.isEnded) up.close();
            continue;
          }
        }
        up.write(seg.enter);
        tracker.nextLine();
      }
    };
    relay(ctx, ch, up, {
      commandId: decision.commandId,
      started,
      terminal: true,
      onOutput: (t) => {
        tracker.output(t);
        cast.output(t);
      },
      input: (b) => {
        const text = decoder.write(b);
        queue = queue.then(() => typed(text)).catch((e: Error) => ctx.log.warn({ err: e.message }, 'ssh shell input failed'));
      },
      onClose: () => cast.close(),
      lost: () => upstreamLost(client),
      drained: () => queue,
      resultRows: (out) => [['recording', cast.path], ['terminal', out.kept]],
    });
  });
}

function refusalText(d: Exclude<Decision, { action: 'allow' }>): string {
  return d.action === 'review' ? `warden: held for review ${d.reviewId}: ${d.message} (nothing ran; once approved, type it again)` : `warden: ${d.reason}`;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
