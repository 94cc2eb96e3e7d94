// One write transaction's worth of chain: given the head read under the writer's lock,
// give each queued event its seq, prevHash and hash, pick the checkpoints to sign, and
// work out the session projection. Pure, so the SQLite worker and the Postgres writer
// share it and cannot disagree about the chain.
import type { Selectable } from 'kysely';
import type { EventsTable, SessionsTable } from '../store/schema.ts';
import { eventHash } from './canonical.ts';
import type { Checkpoint } from './checkpoint-file.ts';
import type { Signer } from './keys.ts';

/** A queued event as the writers see it: data already canonical JSON (checked at append). */
export interface BatchItem {
  type: string;
  sessionId: string | null;
  actor: string | null;
  dataJson: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** A row of the events table, as the writers insert it. */
export type EventRow = EventsTable;

/** A new row of the sessions projection. */
export type SessionStart = Selectable<SessionsTable>;

export interface SessionUpdate {
  id: string;
  /** command events to add */
  commands: number;
  ended_at: string | null;
  end_reason: string | null;
}

/**
 * The batch's effect on the `sessions` projection. A session started in this batch is
 * inserted whole (its commands and end folded in), so every session row is written
 * once per batch: that lets the Postgres writer do it all in one statement.
 */
export interface SessionProjection {
  starts: Map<string, SessionStart>;
  updates: Map<string, SessionUpdate>;
}

export interface ChainedBatch {
  rows: EventRow[];
  checkpoints: Checkpoint[];
  head: ChainHead;
  sessions: SessionProjection;
}

/** What a writer hands back per batch: enough for the log to rebuild each AuditEvent. */
export interface BatchWritten {
  firstSeq: number;
  ts: string;
  prevHash: string;
  hashes: string[];
}

export function chainBatch(head: ChainHead, items: BatchItem[], ts: string, checkpointEvery: number, sign: Signer): ChainedBatch {
  const rows: EventRow[] = new Array(items.length);
  const checkpoints: Checkpoint[] = [];
  const sessions: SessionProjection = { starts: new Map(), updates: new Map() };
  let { seq, hash } = head;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const prev = hash;
    seq += 1;
    hash = eventHash(prev, { seq, ts, type: it.type, sessionId: it.sessionId, actor: it.actor, dataJson: it.dataJson });
    rows[i] = { seq, ts, type: it.type, session_id: it.sessionId, actor: it.actor, data: it.dataJson, prev_hash: prev, hash };
    if (checkpointEvery > 0 && seq % checkpointEvery === 0) checkpoints.push({ seq, hash, ts, ...sign(seq, hash) });
    if (it.sessionId !== null) project(sessions, it, ts);
  }
  return { rows, checkpoints, head: { seq, hash }, sessions };
}

function project(p: SessionProjection, it: BatchItem, ts: string): void {
  const id = it.sessionId as string;
  if (it.type === 'session.start') {
    const d = JSON.parse(it.dataJson) as Record<string, unknown>;
    const identity = (d.identity ?? {}) as Record<string, unknown>;
    p.starts.set(id, {
      id,
      connection: str(d.connection),
      connection_type: typeof d.connectionType === 'string' ? d.connectionType : null,
      protocol: str(d.protocol),
      identity_name: str(identity.name ?? it.actor),
      identity: JSON.stringify(identity),
      client_addr: str(d.clientAddr),
      started_at: ts,
      commands: 0,
      ended_at: null,
      end_reason: null,
    });
    return;
  }
  if (it.type !== 'command' && it.type !== 'session.end') return;
  let row: SessionStart | SessionUpdate | undefined = p.starts.get(id) ?? p.updates.get(id);
  if (!row) p.updates.set(id, (row = { id, commands: 0, ended_at: null, end_reason: null }));
  if (it.type === 'command') {
    row.commands++;
  } else {
    const d = JSON.parse(it.dataJson) as Record<string, unknown>;
    row.ended_at = ts;
    row.end_reason = str(d.reason);
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v == null ? '' : String(v));

export function written(prevHead: ChainHead, batch: ChainedBatch): BatchWritten {
  return {
    firstSeq: prevHead.seq + 1,
    ts: batch.rows[0]?.ts ?? '',
    prevHash: prevHead.hash,
    hashes: batch.rows.map((r) => r.hash),
  };
}
