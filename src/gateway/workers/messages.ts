// What the main thread and a data-plane worker thread say to each other (pool.ts and
// worker.ts). With workers, the network's Postgres and MySQL connections are all theirs:
// each owns its connections, relays, policy and masking. The main thread owns what is
// shared: admission (and its records), the review desk, the audit log, the revocation
// list, metrics, Postgres cancel keys and MySQL KILLs that cross threads, and the
// console's live sessions.
import type { PackedItems } from '../../audit/batch-wire.ts';
import type { WardenConfig } from '../../config/schema.ts';
import type { Identity } from '../../identity/types.ts';
import type { ConnectionIds, KillAnswer } from '../../protocols/engine.ts';

/** The wire doors a worker serves: it listens on their ports beside the other workers (src/gateway/engines.ts names them). */
export const WORKER_DOORS = ['postgres', 'mysql'] as const;
export type WorkerDoor = (typeof WORKER_DOORS)[number];

/** What a worker starts with (workerData). */
export interface WorkerStart {
  index: number;
  /** the gateway's config as the main thread runs it (the demo connection included) */
  config: WardenConfig;
  tls: { cert: string; key: string } | null;
  /** where each of its doors listens (port 0 for the first worker: the kernel's choice); every worker binds them with reusePort */
  listen: Partial<Record<WorkerDoor, { host: string; port: number }>>;
  /** the MySQL connection ids this worker gives: the main thread's door has offset 0, worker i offset i + 1 */
  connectionIds: ConnectionIds;
  /** credential ids revoked at start, with when they would have expired anyway (ms) */
  revoked: [string, number][];
}

/** A caller's credential as a worker's door read it (Buffers arrive as Uint8Arrays). */
export type WireCredential = { kind: 'token'; token: string } | { kind: 'native'; scramble: Uint8Array; response: Uint8Array };

export type Rpc =
  | { op: 'admit'; req: { door: WorkerDoor; credential: WireCredential; connection: string; clientAddr: string } }
  | { op: 'nativeKnown'; scramble: Uint8Array; response: Uint8Array }
  /** a MySQL KILL of an id another thread gave */
  | { op: 'kill'; target: number; by: Identity; connection: string }
  | { op: 'hold'; req: unknown }
  | { op: 'awaitApproval'; req: unknown; reviewId: string; ms: number }
  | { op: 'activeGrant'; identity: unknown; connection: string };

export type FromWorker =
  /** listening, each door on this port */
  | { t: 'ready'; ports: Partial<Record<WorkerDoor, number>> }
  /** could not start (the port is taken...) */
  | { t: 'failed'; message: string }
  | ({ t: 'rpc'; id: number } & Rpc)
  /** the client gave up on an awaitApproval rpc */
  | { t: 'abort'; id: number }
  /** events encoded by the worker (encodeItem); ids[i] is 0 for a post, else the persist waiting for it */
  | { t: 'events'; items: PackedItems; ids: number[] }
  | { t: 'session'; id: string; protocol: string; connection: string }
  | { t: 'ended'; ids: string[] }
  | { t: 'refused'; reason: 'handshake_timeout' | 'too_many_handshakes'; clientAddr: string; door: WorkerDoor }
  | { t: 'recordError'; message: string }
  | { t: 'gauges'; active: number; pending: number }
  | { t: 'cancel'; pid: number; key: number }
  | { t: 'drained'; id: number }
  /** the answer to a kill asked of this worker */
  | { t: 'killAnswer'; id: number; answer: KillAnswer }
  | { t: 'closed' };

export type ToWorker =
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; message: string }
  | { t: 'persisted'; ids: number[] }
  | { t: 'unpersisted'; ids: number[]; message: string }
  | { t: 'revoked'; id: string; expiresAt: number }
  | { t: 'terminate'; sessionId: string; reason: string }
  | { t: 'cancel'; pid: number; key: number }
  /** a MySQL KILL of an id this worker gave (answered by killAnswer) */
  | { t: 'kill'; id: number; target: number; by: Identity; connection: string }
  /** send the events held now, then say drained (the audit log's flush) */
  | { t: 'drain'; id: number }
  | { t: 'close' };
