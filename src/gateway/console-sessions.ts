// The console's sessions table: filters and keyset paging on the `sessions` projection,
// so a page costs the same with 100 or 100,000 sessions (an index walk from the cursor, no
// OFFSET, no count). Decision and command-text filters look into the session's command
// events through the (session_id, seq) index; a text match names the first matching
// event, so the console can open the replay at that moment.
import { sql, type ExpressionBuilder } from 'kysely';
import type { Store } from '../store/index.ts';
import type { Database } from '../store/schema.ts';

export interface SessionPageQuery {
  limit: number;
  /** opaque cursor from the previous page */
  after?: string;
  identity?: string;
  connection?: string;
  protocol?: string;
  /** sessions with at least one command of this decision */
  decision?: 'allow' | 'block' | 'review';
  /** ISO-8601 or ms: started at or after / before */
  from?: string;
  to?: string;
  /** text a command of the session contains */
  command?: string;
}

export interface SessionRow {
  id: string;
  connection: string;
  protocol: string;
  identityName: string;
  clientAddr: string;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  commands: number;
  /** with a command filter: the seq of the first matching command event */
  matchSeq: number | null;
}

export class QueryError extends Error {}

const DECISIONS = new Set(['allow', 'block', 'review']);

function iso(name: string, v: string): string {
  const d = new Date(/^\d+$/.test(v) ? Number(v) : v);
  if (Number.isNaN(d.getTime())) throw new QueryError(`${name}: not a time (ISO-8601 or ms since epoch)`);
  return d.toISOString();
}

/** A LIKE pattern for `text` as it appears inside the event's canonical JSON. */
function likeInJson(text: string): string {
  const json = JSON.stringify(text).slice(1, -1);
  return `%${json.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function encodeCursor(r: { startedAt: string; id: string }): string {
  return Buffer.from(`${r.startedAt}|${r.id}`).toString('base64url');
}

function decodeCursor(c: string): { startedAt: string; id: string } {
  const [startedAt, id] = Buffer.from(c, 'base64url').toString().split('|');
  if (!startedAt || !id) throw new QueryError('after: not a cursor from this API');
  return { startedAt, id };
}

export function parseSessionQuery(q: Record<string, unknown>): SessionPageQuery {
  const s = (k: string): string | undefined => {
    const v = q[k];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new QueryError(`${k}: expected one value`);
    return v;
  };
  const limit = s('limit') === undefined ? 50 : Number(s('limit'));
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new QueryError('limit: an integer from 1 to 500');
  const decision = s('decision');
  if (decision !== undefined && !DECISIONS.has(decision)) throw new QueryError('decision: one of allow, block, review');
  const command = s('command');
  if (command !== undefined && command.length > 500) throw new QueryError('command: at most 500 characters');
  return {
    limit, after: s('after'), identity: s('identity'), connection: s('connection'), protocol: s('protocol'),
    decision: decision as SessionPageQuery['decision'], from: s('from'), to: s('to'), command,
  };
}

export async function sessionPage(store: Store, q: SessionPageQuery): Promise<{ sessions: SessionRow[]; next: string | null }> {
  const textPattern = q.command !== undefined ? likeInJson(q.command) : null;
  // Postgres compares LIKE with case; the console's search is case-insensitive on both stores.
  const like = store.kind === 'postgres' ? 'ilike' : 'like';
  const commandEvents = (eb: ExpressionBuilder<Database, 'sessions'>) => {
    let sub = eb.selectFrom('events').whereRef('events.session_id', '=', 'sessions.id').where('events.type', '=', 'command');
    if (textPattern !== null) sub = sub.where(sql<boolean>`events.data ${sql.raw(like)} ${textPattern} escape '\\'`);
    return sub;
  };
  let query = store.db.selectFrom('sessions').select(['id', 'connection', 'protocol', 'identity_name', 'client_addr', 'started_at', 'ended_at', 'end_reason', 'commands']);
  if (q.identity) query = query.where('identity_name', '=', q.identity);
  if (q.connection) query = query.where('connection', '=', q.connection);
  if (q.protocol) query = query.where('protocol', '=', q.protocol);
  if (q.from) query = query.where('started_at', '>=', iso('from', q.from));
  if (q.to) query = query.where('started_at', '<', iso('to', q.to));
  if (q.decision) {
    const pattern = `%"decision":"${q.decision}"%`;
    query = query.where((eb) => eb.exists(commandEvents(eb).select('events.seq').where('events.data', 'like', pattern)));
  }
  if (textPattern !== null) {
    query = query
      .where((eb) => eb.exists(commandEvents(eb).select('events.seq')))
      .select((eb) => commandEvents(eb).select((e) => e.fn.min('events.seq').as('m')).as('match_seq'));
  }
  if (q.after) {
    const c = decodeCursor(q.after);
    query = query.where((eb) => eb.or([eb('started_at', '<', c.startedAt), eb.and([eb('started_at', '=', c.startedAt), eb('id', '>', c.id)])]));
  }
  const rows = (await query.orderBy('started_at', 'desc').orderBy('id').limit(q.limit + 1).execute()) as (Record<string, unknown> & { match_seq?: unknown })[];
  const page = rows.slice(0, q.limit).map((r): SessionRow => ({
    id: String(r.id), connection: String(r.connection), protocol: String(r.protocol), identityName: String(r.identity_name),
    clientAddr: String(r.client_addr), startedAt: String(r.started_at), endedAt: (r.ended_at as string | null) ?? null,
    endReason: (r.end_reason as string | null) ?? null, commands: Number(r.commands),
    matchSeq: r.match_seq === undefined || r.match_seq === null ? null : Number(r.match_seq),
  }));
  const last = page.at(-1);
  return { sessions: page, next: rows.length > q.limit && last ? encodeCursor(last) : null };
}
