// `warden sessions show <id> --from <where>`: the replay from a command or a time into the
// session (cast-seek.ts reads `where`). The text replay keeps the events from that command
// on; the terminal replay (--play) needs the command times to place it in a recording.
import { parseFrom, type From } from './cast-seek.ts';

interface Ev {
  seq: number;
  ts: string;
  type: string;
  data: Record<string, unknown>;
}

export interface ReplayFrom {
  from: From;
  startMs: number;
  /** command id -> ms since the epoch */
  commandTimes: Map<string, number>;
  /** the session's events from the command on */
  events: Ev[];
}

export function replayFrom(s: { id: string; startedAt: string; events: Ev[] }, text: string): ReplayFrom {
  const from = parseFrom(text.replace(/^\+/, ''), s.id);
  const startMs = Date.parse(s.startedAt);
  const commandTimes = new Map<string, number>();
  for (const e of s.events) if (e.type === 'command') commandTimes.set(String(e.data.commandId), Date.parse(e.ts));
  let firstSeq: number;
  if ('commandId' in from) {
    const cmd = s.events.find((e) => e.type === 'command' && e.data.commandId === from.commandId);
    if (!cmd) throw new Error(`session ${s.id} has no command ${from.commandId}`);
    firstSeq = cmd.seq;
  } else {
    const at = startMs + from.offsetMs;
    firstSeq = s.events.find((e) => Date.parse(e.ts) >= at)?.seq ?? Infinity;
  }
  return { from, startMs, commandTimes, events: s.events.filter((e) => e.seq >= firstSeq) };
}
