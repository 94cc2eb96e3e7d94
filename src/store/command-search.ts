// Which sessions ran a command matching a glob (`warden sessions list --command`), for
// every protocol: a command is a `command` event whose text is the SQL statement, the
// HTTP request line, the SSH exec command or the shell line. Each hit names the command's
// id and its time into the session, where the replay (and an SSH shell's terminal
// recording, `sessions show --play --from`) can start.
//
// The search walks command events newest first through a partial index on events(seq)
// WHERE type = 'command' (migration 0009), and one request reads at most `window` of them:
// with 100,000 sessions and millions of commands, a request costs the same, and `next`
// says where the following page starts. A glob cannot use a B-tree index (a leading `*`
// is the usual case), so the bound is what keeps a request fast on both stores.
import { sql, type RawBuilder } from 'kysely';
import type { Store } from './open.ts';
import { toIso, toRecord, type SessionRecord } from './sessions.ts';
import { commandMatcher, LIKE_ESCAPE } from './command-glob.ts';

/** protocols whose commands are shell command lines (base-name matching, as ssh-match.ts) */
const SHELL_PROTOCOLS = ['ssh', 'exec'];

/** command events one request reads at most */
export const SEARCH_WINDOW = 20_000;

export interface CommandSearch {
  /** a `commands:` glob over the command's whole text */
  glob: string;
  /** sessions per page; default 100 */
  limit?: number;
  /** continue below this event seq (the `next` of the previous page) */
  before?: number;
  connection?: string;
  /** only sessions started at or after this time (ms since epoch or ISO-8601) */
  since?: number | string;
  /** command events read at most (default SEARCH_WINDOW) */
  window?: number;
}

export interface CommandHit {
  /** the command event's place in the audit chain */
  seq: number;
  /** `<session id>:<n>`, as the replay and the results name it */
  commandId: string;
  ts: string;
  /** ms from the session's start to the command */
  offsetMs: number;
  text: string;
  decision: string;
  /** how it came: exec, shell-line, http, ... when the engine says */
  via?: string;
}

export type SessionHits = SessionRecord & { matches: CommandHit[] };

export interface CommandSearchPage {
  /** newest hit first; a session may show again on a later page with older hits */
  sessions: SessionHits[];
  /** the `before` of the next page; null when the search reached the oldest command */
  next: number | null;
}

export async function searchCommands(store: Store, q: CommandSearch): Promise<CommandSearchPage> {
  const matcher = commandMatcher(q.glob);
  const limit = q.limit ?? 100;
  const window = q.window ?? SEARCH_WINDOW;
  const before = q.before ?? Number.MAX_SAFE_INTEGER;
  const since = q.since === undefined ? undefined : toIso(q.since);
  // The literal `type = 'command'` (not a parameter) lets both planners use the partial index.
  const isCommand = sql<boolean>`e.type = 'command'`;
  const bound = await store.db
    .selectFrom('events as e')
    .select(['e.seq', 'e.ts'])
    .where(isCommand)
    .where('e.seq', '<', before)
    .orderBy('e.seq', 'desc')
    .limit(1)
    .offset(window - 1)
    .executeTakeFirst();
  const floor = bound ? Number(bound.seq) : 0;
  const text: RawBuilder<string> = store.kind === 'postgres' ? sql`(e.data::jsonb ->> 'text')` : sql`json_extract(e.data, '$.text')`;
  // enough hits for `limit` sessions in the usual case; a page with fewer is continued by `next`
  const maxHits = Math.min(limit * 20, 5000);
  let query = store.db
    .selectFrom('events as e')
    .innerJoin('sessions as s', 's.id', 'e.session_id')
    .selectAll('s')
    .select(['e.seq as e_seq', 'e.ts as e_ts', 'e.data as e_data'])
    .where(isCommand)
    .where('e.seq', '<', before)
    .where('e.seq', '>=', floor);
  // the raw JSON first: most rows fail there, before their JSON is parsed
  if (matcher.rawLike !== null) query = query.where('e.data', 'like', sql<string>`${matcher.rawLike} escape ${LIKE_ESCAPE}`);
  query = query
    .where((eb) => {
      const like = (p: string) => eb(text, 'like', sql<string>`${p} escape ${LIKE_ESCAPE}`);
      const [whole, byBase] = matcher.like;
      // the base-name form (`rm *` for `/usr/bin/rm -rf x`) is only for shell commands
      return byBase === undefined ? like(whole!) : eb.or([like(whole!), eb.and([eb('s.protocol', 'in', SHELL_PROTOCOLS), like(byBase)])]);
    });
  if (q.connection !== undefined) query = query.where('s.connection', '=', q.connection);
  if (since !== undefined) query = query.where('s.started_at', '>=', since);
  const rows = await query.orderBy('e.seq', 'desc').limit(maxHits).execute();

  const bySession = new Map<string, SessionHits>();
  let next: number | null = rows.length === maxHits ? Number(rows[rows.length - 1]!.e_seq) : bound ? floor : null;
  for (const r of rows) {
    const d = JSON.parse(r.e_data) as Record<string, unknown>;
    const cmdText = typeof d.text === 'string' ? d.text : '';
    if (!matcher.test(cmdText)) continue;
    let s = bySession.get(r.id);
    if (!s) {
      if (bySession.size === limit) {
        // the page ends here: the next one starts with this hit
        next = Number(r.e_seq) + 1;
        break;
      }
      bySession.set(r.id, (s = { ...toRecord(r), matches: [] }));
    }
    const hit: CommandHit = {
      seq: Number(r.e_seq),
      commandId: String(d.commandId ?? ''),
      ts: r.e_ts,
      offsetMs: Math.max(0, Date.parse(r.e_ts) - Date.parse(r.started_at)),
      text: cmdText,
      decision: String(d.decision ?? ''),
    };
    if (typeof d.via === 'string') hit.via = d.via;
    s.matches.push(hit);
  }
  // Commands older than `since` belong to older sessions only: nothing more to find below.
  if (bound && next === floor && since !== undefined && bound.ts < since) next = null;
  return { sessions: [...bySession.values()], next };
}
