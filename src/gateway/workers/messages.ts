// What the main thread and a data-plane worker thread say to each other (pool.ts and
// worker.ts). With workers, the network's Postgres connections are all theirs: each owns
// its connections, relays, policy and masking. The main thread owns what is shared: admission (and its records), the review desk, the audit log, the
// revocation list, metrics, cancel keys of other threads and the console's live sessions.
import type { PackedItems } from '../../audit/batch-wire.ts';
import type { WardenConfig } from '../../config/schema.ts';

/** What a worker starts with (workerData). */
export interface WorkerStart {
  index: number;
  /** the gateway's config as the main thread runs it (the demo connection included) */
  config: WardenConfig;
  tls: { cert: string; key: string } | null;
  /** where the Postgres door listens (port 0 for the first worker: the kernel's choice); every worker binds it with reusePort */
  listen: { host: string; port: number };
  /** credential ids revoked at start, with when they would have expired anyway (ms) */
  revoked: [string, number][];
}

export type Rpc =
  | { op: 'admit'; req: { credential: { kind: 'token'; token: string }; connection: string; clientAddr: string } }
  | { op: 'hold'; req: unknown }
  | { op: 'awaitApproval'; req: unknown; reviewId: string; ms: number }
  | { op: 'activeGrant'; identity: unknown; connection: string };

export type FromWorker =
  /** listening, on this port */
  | { t: 'ready'; port: number }
  /** could not start (the port is taken...) */
  | { t: 'failed'; message: string }
  | ({ t: 'rpc'; id: number } & Rpc)
  /** the client gave up on an awaitApproval rpc */
  | { t: 'abort'; id: number }
  /** events encoded by the worker (encodeItem); ids[i] is 0 for a post, else the persist waiting for it */
  | { t: 'events'; items: PackedItems; ids: number[] }
  | { t: 'session'; id: string; protocol: string; connection: string }
  | { t: 'ended'; ids: string[] }
  | { t: 'refused'; reason: 'handshake_timeout' | 'too_many_handshakes'; clientAddr: string }
  | { t: 'recordError'; message: string }
  | { t: 'gauges'; active: number; pending: number }
  | { t: 'cancel'; pid: number; key: number }
  | { t: 'drained'; id: number }
  | { t: 'closed' };

export type ToWorker =
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; message: string }
  | { t: 'persisted'; ids: number[] }
  | { t: 'unpersisted'; ids: number[]; message: string }
  | { t: 'revoked'; id: string; expiresAt: number }
  | { t: 'terminate'; sessionId: string; reason: string }
  | { t: 'cancel'; pid: number; key: number }
  /** send the events held now, then say drained (the audit log's flush) */
  | { t: 'drain'; id: number }
  | { t: 'close' };
