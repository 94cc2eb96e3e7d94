// Terminal results in a replay (ssh exec and shell): the output as the caller saw it (masked),
// escape sequences stripped so it reads as text; and `--play`, which writes a shell's
// asciicast recording back to this terminal at its recorded pace.
import { readCast, type Cast } from './cast-seek.ts';

// CSI and OSC sequences, then other lone escapes and carriage returns
const ESCAPES = new RegExp(String.raw`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]|\r`, 'g');

export function isTerminalResult(r: Record<string, unknown>): boolean {
  const cols = (r.columns as { name: string }[] | undefined)?.map((c) => c.name);
  return cols?.length === 2 && cols[0] === 'stream' && cols[1] === 'output';
}

export function renderTerminalResult(r: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const [stream, text] of (r.rows as [string, string | null][] | undefined) ?? []) {
    if (!text) continue;
    if (stream === 'recording') {
      lines.push(`     recording: ${text}   (warden sessions show <id> --play [--from <command id or time>])`);
      continue;
    }
    lines.push(`     ${stream}:`);
    lines.push(...text.replace(ESCAPES, '').replace(/\n$/, '').split('\n').map((l) => `       ${l}`));
  }
  if (r.truncated) lines.push('     … (output truncated in the record)');
  return lines;
}

/** The recordings a session's results name, in order. */
export function recordingsOf(events: { type: string; data: Record<string, unknown> }[]): string[] {
  return events.filter((e) => e.type === 'result' && isTerminalResult(e.data)).flatMap((e) => (e.data.rows as [string, string][]).filter((r) => r[0] === 'recording').map((r) => r[1]));
}

/**
 * Write an asciicast v2 recording's output events to `out` at recorded speed (pauses capped
 * at `maxPauseS`). From `fromS` seconds in: the output before it is written at once, so the
 * screen shows what it showed then, and the pace starts there.
 */
export async function play(file: string | Cast, out: NodeJS.WritableStream, opts: { maxPauseS?: number; fromS?: number } = {}): Promise<void> {
  const cast = typeof file === 'string' ? readCast(file) : file;
  const maxPauseS = opts.maxPauseS ?? 2;
  const fromS = opts.fromS ?? 0;
  let last = fromS;
  let before = '';
  for (const [t, kind, data] of cast.events) {
    if (kind !== 'o') continue;
    if (t < fromS) {
      before += data;
      continue;
    }
    if (before) {
      out.write(before);
      before = '';
    }
    const wait = Math.min(Math.max(0, t - last), maxPauseS);
    last = t;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait * 1000));
    out.write(data);
  }
  if (before) out.write(before);
}
