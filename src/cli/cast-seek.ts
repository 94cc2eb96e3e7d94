// Where a terminal replay starts (`warden sessions show <id> --play --from <where>`): at a
// command (its id, `#n`, as `sessions list --command` prints it) or at a time into the
// session. A shell's asciicast carries a marker event ([t, "m", commandId]) for each
// command it ran (protocols/ssh/shell.ts), which places a command exactly in the
// recording and ties the recording's clock to the session's. Casts written before the
// markers fall back to the header's timestamp (whole seconds).
import { readFileSync } from 'node:fs';
import { parseDuration } from '../config/duration.ts';

export type CastEvent = [number, string, string];

export interface Cast {
  file: string;
  /** Unix seconds, from the header */
  timestamp: number;
  events: CastEvent[];
}

export function readCast(file: string): Cast {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const header = JSON.parse(lines[0] ?? '{}') as { timestamp?: number };
  return { file, timestamp: header.timestamp ?? 0, events: lines.slice(1).map((l) => JSON.parse(l) as CastEvent) };
}

/** Where to start: a command id, or ms into the session. */
export type From = { commandId: string } | { offsetMs: number };

/**
 * `--from` as typed: `<session>:<n>` or `#<n>` (a command), else a time into the session
 * (`90s`, `1m30s`, `1500ms`, or a number of seconds).
 */
export function parseFrom(text: string, sessionId: string): From {
  const t = text.trim();
  if (/^#\d+$/.test(t)) return { commandId: `${sessionId}:${t.slice(1)}` };
  if (t.includes(':')) {
    if (!t.startsWith(`${sessionId}:`)) throw new Error(`--from ${t}: that command id is not of session ${sessionId}`);
    return { commandId: t };
  }
  if (/^\d+(\.\d+)?$/.test(t)) return { offsetMs: Math.round(Number(t) * 1000) };
  if (/^0+(ms|s|m|h)?$/.test(t)) return { offsetMs: 0 };
  try {
    return { offsetMs: parseDuration(t) };
  } catch {
    throw new Error(`--from ${JSON.stringify(text)}: expected a command id (<session>:<n> or #<n>) or a time into the session (90s, 1m30s, 12.5)`);
  }
}

/** The cast's start in ms since the epoch: from a marker of a command whose time is known, else the header. */
export function castStartMs(cast: Cast, commandTimes: Map<string, number>): number {
  for (const [t, kind, data] of cast.events) {
    const at = kind === 'm' ? commandTimes.get(data) : undefined;
    if (at !== undefined) return at - t * 1000;
  }
  return cast.timestamp * 1000;
}

/**
 * The cast to start in and the time into it (seconds), or null when the moment is in no
 * recording. `commandTimes`: command id -> ms since the epoch, from the session's events.
 */
export function seek(casts: Cast[], from: From, sessionStartMs: number, commandTimes: Map<string, number>): { index: number; atS: number } | null {
  if ('commandId' in from) {
    for (let i = 0; i < casts.length; i++) {
      const m = casts[i]!.events.find(([, kind, data]) => kind === 'm' && data === from.commandId);
      if (m) return { index: i, atS: m[0] };
    }
    const at = commandTimes.get(from.commandId);
    if (at === undefined) return null;
    return seekTime(casts, at, commandTimes);
  }
  return seekTime(casts, sessionStartMs + from.offsetMs, commandTimes);
}

function seekTime(casts: Cast[], atMs: number, commandTimes: Map<string, number>): { index: number; atS: number } | null {
  for (let i = 0; i < casts.length; i++) {
    const c = casts[i]!;
    const start = castStartMs(c, commandTimes);
    const end = start + (c.events.at(-1)?.[0] ?? 0) * 1000;
    // a moment before this recording began (between two shells) starts at its beginning
    if (atMs <= end) return { index: i, atS: Math.max(0, (atMs - start) / 1000) };
  }
  return null;
}
