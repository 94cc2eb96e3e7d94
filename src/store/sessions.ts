// Reading sessions back for replay: the `sessions` projection (kept by the audit writer
// in the same transaction as the events) and a session's events in chain order.
import type { Store } from './open.ts';
import type { Selectable } from 'kysely';
import type { SessionsTable, StoredEvent } from './schema.ts';

export interface SessionRecord {
  id: string;
  connection: string;
  connectionType: string | null;
  protocol: string;
  identityName: string;
  identity: Record<string, unknown>;
  clientAddr: string;
  /** ISO-8601, the time of the session.start event */
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  commands: number;
}

export interface ListSessionsOptions {
  /** newest first; default 100 */
  limit?: number;
  connection?: string;
  /** only sessions started at or after this time (ms since epoch or ISO-8601) */
  since?: number | string;
}

export async function listSessions(store: Store, opts: ListSessionsOptions = {}): Promise<SessionRecord[]> {
  let q = store.db.selectFrom('sessions').selectAll();
  if (opts.connection !== undefined) q = q.where('connection', '=', opts.connection);
  if (opts.since !== undefined) q = q.where('started_at', '>=', toIso(opts.since));
  const rows = await q
    .orderBy('started_at', 'desc')
    .orderBy('id')
    .limit(opts.limit ?? 100)
    .execute();
  return rows.map(toRecord);
}

/**
 * One session and its events in order (data parsed). `afterSeq`/`limit` page through a
 * long session; by default every event is returned.
 */
export async function getSession(
  store: Store,
  id: string,
  opts: { afterSeq?: number; limit?: number } = {},
): Promise<{ session: SessionRecord; events: StoredEvent[] } | null> {
  const row = await store.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  let q = store.db.selectFrom('events').selectAll().where('session_id', '=', id);
  if (opts.afterSeq !== undefined) q = q.where('seq', '>', opts.afterSeq);
  q = q.orderBy('seq');
  if (opts.limit !== undefined) q = q.limit(opts.limit);
  const events = (await q.execute()).map(
    (e): StoredEvent => ({
      seq: e.seq,
      ts: e.ts,
      type: e.type,
      sessionId: e.session_id,
      actor: e.actor,
      data: JSON.parse(e.data) as Record<string, unknown>,
      prevHash: e.prev_hash,
      hash: e.hash,
    }),
  );
  return { session: toRecord(row), events };
}

export function toIso(t: number | string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new Error(`not a time: ${JSON.stringify(t)}`);
  return d.toISOString();
}

export function toRecord(r: Selectable<SessionsTable>): SessionRecord {
  return {
    id: r.id,
    connection: r.connection,
    connectionType: r.connection_type,
    protocol: r.protocol,
    identityName: r.identity_name,
    identity: JSON.parse(r.identity) as Record<string, unknown>,
    clientAddr: r.client_addr,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    endReason: r.end_reason,
    commands: Number(r.commands),
  };
}
