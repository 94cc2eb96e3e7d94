// The tables of the store as Kysely sees them. One schema serves SQLite and Postgres:
// JSON goes in text columns (same bytes on both), integer times are ms since the
// epoch, and event/session times are ISO-8601 strings copied from the audit log.
import type { ColumnType } from 'kysely';

export interface ApiKeysTable {
  id: string;
  name: string;
  /** sha256 hex of the whole token: tokens are 256-bit random, so no slow KDF is needed */
  token_hash: string;
  /** JSON array of group names */
  groups: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface EventsTable {
  seq: number;
  ts: string;
  type: string;
  session_id: string | null;
  actor: string | null;
  /** canonical JSON of the event's data */
  data: string;
  prev_hash: string;
  hash: string;
}

/** A projection of session.start / command / session.end events, kept by the audit writer. */
export interface SessionsTable {
  id: string;
  connection: string;
  connection_type: string | null;
  protocol: string;
  identity_name: string;
  /** JSON of the identity as recorded in session.start */
  identity: string;
  client_addr: string;
  started_at: string;
  ended_at: string | null;
  end_reason: string | null;
  commands: ColumnType<number, number | undefined, number>;
}

export interface CheckpointsTable {
  seq: number;
  hash: string;
  ts: string;
  /** base64 Ed25519 signature over `${seq}\n${hash}` */
  signature: string;
  key_id: string;
}

/** One row (id = 1): the last seq and hash of the chain, locked by every writer. */
export interface ChainHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface Database {
  api_keys: ApiKeysTable;
  events: EventsTable;
  sessions: SessionsTable;
  checkpoints: CheckpointsTable;
  chain_head: ChainHeadTable;
}

/** An event as read back from the store (same shape as the audit log's AuditEvent). */
export interface StoredEvent {
  seq: number;
  ts: string;
  type: string;
  sessionId: string | null;
  actor: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}
