// `warden sessions list --command <glob>`: the sessions in which a matching command ran,
// each hit with its command id and time into the session, where the replay starts
// (`warden sessions show <id> --from <command id>`, with --play for an SSH shell).
import type { Backend } from './backend.ts';
import type { CommandSearch, SessionHits } from '../store/command-search.ts';
import { shorten, table } from './render.ts';

/** Pages through the search until `limit` sessions are found or nothing is left. */
export async function searchSessions(b: Backend, q: CommandSearch & { limit: number }): Promise<SessionHits[]> {
  const found = new Map<string, SessionHits>();
  let before = q.before;
  for (;;) {
    const page = await b.searchCommands({ ...q, before });
    for (const s of page.sessions) {
      const had = found.get(s.id);
      // a session seen on an earlier page comes back with older hits
      if (had) had.matches.push(...s.matches);
      else if (found.size < q.limit) found.set(s.id, s);
    }
    if (page.next === null || found.size >= q.limit) break;
    before = page.next;
  }
  return [...found.values()];
}

/** `+12.3s` from ms */
export function offsetText(ms: number): string {
  return `+${(ms / 1000).toFixed(1)}s`;
}

export function renderHits(sessions: SessionHits[], glob: string): string {
  if (!sessions.length) return `no recorded command matches ${JSON.stringify(glob)}`;
  const rows = sessions.flatMap((s) =>
    s.matches.map((m) => ({ session: s.id, connection: s.connection, protocol: s.protocol, identity: s.identityName, at: offsetText(m.offsetMs), command: m.commandId, decision: m.decision, text: shorten(m.text, 60) })),
  );
  const out = [table(rows, ['session', 'connection', 'protocol', 'identity', 'at', 'command', 'decision', 'text'])];
  out.push('', 'replay from a hit: warden sessions show <session> --from <command>' + (rows.some((r) => r.protocol === 'ssh') ? '   (an SSH shell\'s terminal: add --play)' : ''));
  return out.join('\n');
}
