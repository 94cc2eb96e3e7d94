// The cut every protocol follows (DESIGN.md, "Engines"): a wire engine behind one small
// interface, registered by connection type. The gateway composes engines; it knows none of
// their wire formats. Each engine renders the pipeline's typed refusals in its own codes,
// says how its catalogue is described, and serves in-process clients (MCP tools, `warden
// exec`) through the same relay as a network client.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Identity } from '../identity/types.ts';
import type { AdmissionAnswer, AdmissionCredential, AdmissionRefusal } from '../session/admission.ts';
import type { OpenSession, Protocol, SessionObserver } from '../session/types.ts';
import type { CaptureLimits } from '../session/row-capture.ts';

export interface QueryCaps {
  maxRows: number;
  maxBytes: number;
  timeoutMs: number;
}

/** What one statement returned to an in-process client: values as the target's text, masked. */
export interface RunRows {
  /** name and the protocol's type code (a Postgres OID, a MySQL column type) */
  columns: { name: string; type: number }[];
  rows: (string | null)[][];
  /** rows the statement returned (or affected), even those not kept */
  rowCount: number;
  /** rows were dropped by the row or byte cap */
  truncated: boolean;
  /** command tag or status (`SELECT 2`, `INSERT`) */
  command: string;
}

/** The target's own error for a statement the pipeline let through. */
export class TargetError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
    readonly detail: string | null = null,
    readonly hint: string | null = null,
  ) {
    super(message);
  }
}

export class StatementTimeout extends Error {}

/** One in-process client session on an engine (one statement at a time). */
export interface InProcessSession {
  /** rejects with TargetError, StatementTimeout, or any error when the session broke */
  query(sql: string, params: unknown[] | undefined, caps: QueryCaps): Promise<RunRows>;
  readonly closed: boolean;
  close(): Promise<void>;
}

export type Detail = 'names' | 'summary' | 'full';

/** MySQL: what a KILL of a gateway connection id may reach, the target's id of that session, or why not. */
export type KillAnswer = { upstreamId: number } | { refused: string };

/** A KILL of an id no session of this gateway holds. */
export const noSuchConnection = (id: number): KillAnswer => ({ refused: `connection ${id} is not a session of this gateway` });

/**
 * The ids a door gives its clients (MySQL connection ids, Postgres cancel-key pids), when
 * more than one thread has a door on the same port (data-plane workers): ids of this thread
 * are `offset` modulo `stride`, so the thread that holds a session is read off its id.
 */
export interface ConnectionIds {
  offset: number;
  stride: number;
}

export interface Engine<C = unknown> {
  /** the connection type it serves */
  readonly type: string;
  /** `reusePort`: data-plane worker threads listen on the same port (src/gateway/workers) */
  listen(host: string, port: number, opts?: { reusePort?: boolean }): Promise<{ host: string; port: number }>;
  /** Postgres: cancel the statement of the session given this cancel key, when this engine holds it */
  cancel?(pid: number, key: number): Promise<void>;
  /** MySQL: a KILL of connection `id` by `by` through `connection`, asked by another thread; `id` is one of this engine's (ConnectionIds) */
  killTarget?(id: number, by: Identity, connection: string): KillAnswer;
  close(): Promise<void>;
  readonly activeSessions: number;
  /** connections at the door not yet admitted (engines that bound them) */
  readonly pendingHandshakes?: number;
  /** a typed refusal as the engine's clients would read it: its error code and text */
  refuse(r: AdmissionRefusal): { code: string; message: string };
  /**
   * The query that lists tables and columns (names, per-table summary or full detail) whose
   * name matches `pattern` (LIKE wildcards); rows are [schema, table, ...detail].
   */
  describe(detail: Detail, pattern: string, limit: number): { sql: string; params: unknown[] };
  /** a session for an in-process client of an admitted caller; its record names the real front door */
  open(a: { identity: Identity; connection: C; protocol: Protocol; clientAddr: string; observer: SessionObserver }): Promise<InProcessSession>;
}

/** What the composition root hands every engine; each takes what its door needs. */
export interface EngineDeps<C> {
  /** admission of a network caller (token or native scramble) on connections of this engine's type */
  admit(req: { credential: AdmissionCredential; connection: string; clientAddr: string }): Promise<AdmissionAnswer<C>>;
  openSession: OpenSession;
  /** a byte stream to the target, through the connection's agent */
  dial(connection: C): Promise<Duplex>;
  tls: { cert: string; key: string } | null;
  maxMessageBytes: number;
  limits: CaptureLimits;
  log: Logger;
  dataDir: string;
  /** the connections of this engine's type */
  connections: C[];
  handshake: { timeoutMs: number; maxPending: number };
  onRefused(reason: 'handshake_timeout' | 'too_many_handshakes', clientAddr: string): void;
  /** do this connection's rules or masking read schemas (so the session's search path matters)? */
  readsSchemas(connection: C): boolean;
  /** could this mysql_native_password scramble be an API key's? */
  nativeKnown(scramble: Buffer, response: Buffer): Promise<boolean>;
  /** is an SSH public key with this fingerprint registered and not removed? (answers OpenSSH's key query; no limits, no audit) */
  sshKeyKnown(fingerprint: string): Promise<boolean>;
  /** the ids this door gives (default: any); a cancel or KILL naming another thread's id is asked of it */
  connectionIds?: ConnectionIds;
  /** Postgres: a CancelRequest whose pid another data-plane thread gave (src/gateway/workers) */
  cancelElsewhere?(pid: number, key: number): void;
  /** MySQL: a KILL of an id another data-plane thread gave */
  killElsewhere?(id: number, by: Identity, connection: string): Promise<KillAnswer>;
}
