// The tables of the store as Kysely sees them. One schema serves SQLite and Postgres:
// JSON goes in text columns (same bytes on both), integer times are ms since the
// epoch, and event/session times are ISO-8601 strings copied from the audit log.
import type { ColumnType, Generated } from 'kysely';

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
  /** SHA1(SHA1(token)) hex, for MySQL clients limited to mysql_native_password; null for keys made before it was kept */
  native_verifier: ColumnType<string | null, string | null | undefined, string | null>;
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

/** Checkpoints of a chain written before signed heads (every N events); no longer written. */
export interface CheckpointsTable {
  seq: number;
  hash: string;
  ts: string;
  /** base64 Ed25519 signature over `${seq}\n${hash}` */
  signature: string;
  key_id: string;
}

/** The chain's signed heads (src/audit/head.ts), numbered by n. */
export interface SignedHeadsTable {
  n: number;
  seq: number;
  hash: string;
  ts: string;
  prev: string;
  /** batch | beat | close | adopt */
  kind: string;
  key_id: string;
  /** base64 Ed25519 signature over the head's body */
  signature: string;
}

/** One row (id = 1): the last seq and hash of the chain, locked by every writer. */
export interface ChainHeadTable {
  id: number;
  seq: number;
  hash: string;
  /** the SQLite writer's journal (src/audit/journal.ts): the generation, and the bytes of it the store holds */
  journal_gen: Generated<number>;
  journal_offset: Generated<number>;
}

/** Local users (local mode, no IdP): scrypt password hashes only. */
export interface LocalUsersTable {
  name: string;
  /** `scrypt$N$r$p$salt$hash` (base64url) */
  password_hash: string;
  /** JSON array of group names */
  groups: string;
  created_at: number;
  disabled_at: number | null;
}

/** Gateway tokens revoked before their expiry, by jti. */
export interface RevokedTokensTable {
  jti: string;
  revoked_at: number;
  expires_at: number;
}

/** A just-in-time approval: a held command or a time-window access request (src/reviews). */
export interface ReviewsTable {
  id: string;
  /** command | access */
  kind: string;
  /** pending | approved | rejected | expired | used */
  status: string;
  connection: string;
  /** sha256 of connection + exact text + params (command reviews) */
  command_hash: string | null;
  /** `${command_hash}:${requester_subject}` while pending or approved, else null (unique) */
  open_key: string | null;
  command: string | null;
  /** JSON array of parameters, or null */
  params: string | null;
  /** why the command was held, or the requester's reason for access */
  reason: string;
  rule: string | null;
  requester_subject: string;
  requester_name: string;
  /** JSON of the requester's identity (kind, subject, name, groups) */
  requester: string;
  session_id: string | null;
  /** JSON array of approver groups */
  groups: string;
  approvals_needed: number;
  timeout_ms: number;
  /** access requests: the window granted on approval */
  duration_ms: number | null;
  created_at: number;
  /** pending: until approval; approved: until use (command) or end of the window (access) */
  expires_at: number;
  decided_at: number | null;
  used_at: number | null;
}

export interface ReviewVotesTable {
  review_id: string;
  voter_subject: string;
  voter_name: string;
  /** approve | reject */
  vote: string;
  comment: string | null;
  at: number;
}

/** Once-per-store facts (`bootstrap_admin`: the first admin token was minted). */
export interface GatewayStateTable {
  name: string;
  value: string;
  set_at: number;
}

/** LLM tokens per UTC day, connection and identity; identity '*' is the connection's total. */
export interface LlmUsageTable {
  /** YYYY-MM-DD (UTC) */
  day: string;
  connection: string;
  /** `${kind}:${subject}` of the identity, or '*' */
  identity: string;
  identity_name: string;
  input_tokens: ColumnType<number, number | undefined, number>;
  output_tokens: ColumnType<number, number | undefined, number>;
  requests: ColumnType<number, number | undefined, number>;
  /** requests refused by a budget */
  refused: ColumnType<number, number | undefined, number>;
  /** tokens held by requests in flight (their worst case), released when they settle */
  reserved: ColumnType<number, number | undefined, number>;
}

/** One request's hold on the ledger while it runs; its lease is renewed by the gateway serving it. */
export interface LlmHoldsTable {
  id: string;
  day: string;
  connection: string;
  identity: string;
  tokens: number;
  /** ms since the epoch; past it, the hold may be released by anyone */
  expires_at: number;
}

/**
 * SSH public keys registered to an identity (`warden keys add`). Owner fields are the
 * identity at registration; `api_key_id` binds a key registered with an API key (or a
 * gateway token exchanged for one) to that key, whose row gives the groups at each login.
 */
export interface SshKeysTable {
  /** `SHA256:<base64, unpadded>` of the key's wire blob, as `ssh-keygen -lf` prints it */
  fingerprint: string;
  /** `<type> <base64>`: the public key, never a private one */
  public_key: string;
  comment: string;
  owner_kind: string;
  owner_subject: string;
  owner_name: string;
  /** JSON array: the groups of the login that registered it (user keys); unused for API-key-bound keys */
  groups: string;
  api_key_id: string | null;
  /** JSON array of credential ids (token jti, what it came from): revoking one kills the key */
  credential_ids: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface Database {
  ssh_keys: SshKeysTable;
  llm_usage: LlmUsageTable;
  llm_holds: LlmHoldsTable;
  gateway_state: GatewayStateTable;
  reviews: ReviewsTable;
  review_votes: ReviewVotesTable;
  api_keys: ApiKeysTable;
  local_users: LocalUsersTable;
  revoked_tokens: RevokedTokensTable;
  events: EventsTable;
  sessions: SessionsTable;
  checkpoints: CheckpointsTable;
  signed_heads: SignedHeadsTable;
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
