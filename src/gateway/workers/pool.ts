// The main thread's side of the data-plane workers (gateway.workers): they take the Postgres
// and MySQL doors' ports (the main thread's doors then serve only in-process clients: MCP,
// exec) and the main thread answers what they ask (messages.ts). Admission, reviews and the
// audit log stay here, so a worker's caller is admitted, held and recorded by the same
// code and the same store as the main thread's; revocations and console terminations are
// sent to every worker; a Postgres CancelRequest and a MySQL KILL go to the thread whose id
// they name (ConnectionIds: a cancel key's pid, a connection id).
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { unpackItems, type PackedItems } from '../../audit/batch-wire.ts';
import type { AuditLog } from '../../audit/types.ts';
import type { ConnectionConfig, WardenConfig } from '../../config/schema.ts';
import type { Identity } from '../../identity/types.ts';
import type { Revocations } from '../../identity/revocations.ts';
import type { HoldRequest, ReviewGate } from '../../reviews/desk.ts';
import type { Admission, AdmissionCredential } from '../../session/admission.ts';
import { noSuchConnection, type KillAnswer } from '../../protocols/engine.ts';
import { startThread } from '../../runtime/thread.ts';
import type { FromWorker, ToWorker, WireCredential, WorkerDoor, WorkerStart } from './messages.ts';

/** A session served by a worker, as the console's live list holds it. */
export interface LiveHandle {
  isEnded: boolean;
  terminate(reason: string): Promise<void>;
}

export interface PoolDeps {
  count: number;
  config: WardenConfig;
  tls: { cert: string; key: string } | null;
  /** where each door the workers serve listens (gateway.listen) */
  listen: Partial<Record<WorkerDoor, { host: string; port: number }>>;
  admission: Admission<ConnectionConfig>;
  desk: ReviewGate;
  audit: AuditLog;
  revocations: Revocations;
  live: Map<string, LiveHandle>;
  /** the main thread's own Postgres door: cancel the session given this key, if it holds one */
  cancelHere(pid: number, key: number): void;
  /** the main thread's MySQL door: a KILL of an id it gave (offset 0) */
  killHere(target: number, by: Identity, connection: string): KillAnswer;
  /** could this mysql_native_password scramble be an API key's? */
  nativeKnown(scramble: Buffer, response: Buffer): Promise<boolean>;
  opened(protocol: string, connection: string): void;
  recordError(e: Error): void;
  refused(reason: 'handshake_timeout' | 'too_many_handshakes', clientAddr: string, door: WorkerDoor): void;
  log: Logger;
}

/** how long a restart waits after a worker thread died, so a thread that dies at start does not spin */
const RESTART_MS = 1000;

class Thread {
  worker!: Worker;
  active = 0;
  pending = 0;
  /** awaitApproval rpcs a client may abort */
  readonly aborts = new Map<number, AbortController>();
  closed: (() => void) | null = null;
  /** drain requests waiting for this thread's answer */
  readonly drains = new Map<number, () => void>();
  /** kills asked of this thread, waiting for its answer */
  readonly kills = new Map<number, { target: number; answer: (a: KillAnswer) => void }>();
  alive = false;
}

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** A credential as it crossed from a worker (a structured clone makes Buffers Uint8Arrays). */
function credentialOf(c: WireCredential): AdmissionCredential {
  if (c.kind === 'token') return { kind: 'token', token: c.token };
  if (c.kind === 'native') return { kind: 'native', scramble: asBuffer(c.scramble), response: asBuffer(c.response) };
  throw new Error(`a worker's door sent a credential of kind ${(c as { kind: string }).kind}`);
}


export class WorkerPool {
  private readonly threads: Thread[] = [];
  private closing = false;
  private nextDrain = 1;
  private nextKill = 1;
  /** the doors' addresses: the first worker's bound ports (port 0 asks the kernel), where the others bind too */
  addresses: Partial<Record<WorkerDoor, { host: string; port: number }>>;

  private constructor(private readonly deps: PoolDeps) {
    this.addresses = deps.listen;
    deps.revocations.follow((id, expiresAt) => this.broadcast({ t: 'revoked', id, expiresAt }));
    deps.audit.addFlushSource(() => this.drain());
  }

  /** Every live worker has sent the events it held (its messages arrive in order, so they are in the log). */
  private drain(): Promise<void> {
    return Promise.all(
      this.threads.filter((t) => t.alive).map(
        (t) =>
          new Promise<void>((resolve) => {
            const id = this.nextDrain++;
            t.drains.set(id, resolve);
            t.worker.postMessage({ t: 'drain', id } satisfies ToWorker);
          }),
      ),
    ).then(() => undefined);
  }

  /** Starts `count` workers; resolves once each listens. */
  static async start(deps: PoolDeps): Promise<WorkerPool> {
    const pool = new WorkerPool(deps);
    try {
      const ports = await pool.spawn(0);
      for (const [door, at] of Object.entries(deps.listen) as [WorkerDoor, { host: string; port: number }][]) pool.addresses[door] = { host: at.host, port: ports[door]! };
      await Promise.all(Array.from({ length: deps.count - 1 }, (_, i) => pool.spawn(i + 1)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get activeSessions(): number {
    return this.threads.reduce((n, t) => n + t.active, 0);
  }

  /** Sessions open on each worker (as it last reported), by its index. */
  get sessionsPerWorker(): number[] {
    return this.threads.map((t) => t.active);
  }

  get pendingHandshakes(): number {
    return this.threads.reduce((n, t) => n + t.pending, 0);
  }

  /** A CancelRequest for the thread that gave its pid (pid modulo the thread count; 0 is the main thread's door). */
  cancel(pid: number, key: number): void {
    const owner = this.owner(pid);
    if (owner === 0) return this.deps.cancelHere(pid, key);
    this.threads[owner - 1]?.worker.postMessage({ t: 'cancel', pid, key } satisfies ToWorker);
  }

  /** Which thread gave an id: 0 the main thread's door, i + 1 worker i (ConnectionIds). */
  private owner(id: number): number {
    return id % (this.deps.count + 1);
  }

  /**
   * A MySQL KILL of gateway connection `target` by `by` through `connection`: the thread
   * that gave the id answers (ids are thread + 1 modulo the thread count; 0 is the main
   * thread's door). A thread that is gone holds no session.
   */
  kill(target: number, by: Identity, connection: string): Promise<KillAnswer> {
    const owner = this.owner(target);
    if (owner === 0) return Promise.resolve(this.deps.killHere(target, by, connection));
    const t = this.threads[owner - 1];
    if (!t?.alive) return Promise.resolve(noSuchConnection(target));
    const id = this.nextKill++;
    return new Promise<KillAnswer>((resolve) => {
      t.kills.set(id, { target, answer: resolve });
      t.worker.postMessage({ t: 'kill', id, target, by, connection } satisfies ToWorker);
    });
  }

  /** Each worker closes its door and sessions (their last records reach the log), then exits. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.threads.map(async (t) => {
        if (!t.alive) return void (await t.worker.terminate());
        const closed = new Promise<void>((resolve) => (t.closed = resolve));
        t.worker.postMessage({ t: 'close' } satisfies ToWorker);
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
        await Promise.race([closed, timeout]);
        await t.worker.terminate();
      }),
    );
  }

  private broadcast(m: ToWorker): void {
    for (const t of this.threads) t.worker.postMessage(m);
  }

  /** Start worker `index` on the doors' addresses; resolves with the port each door listens on. */
  private spawn(index: number): Promise<Partial<Record<WorkerDoor, number>>> {
    const d = this.deps;
    const t = (this.threads[index] ??= new Thread());
    const start: WorkerStart = {
      index, config: d.config, tls: d.tls, listen: this.addresses, revoked: d.revocations.snapshot(),
      connectionIds: { offset: index + 1, stride: d.count + 1 },
    };
    const worker = (t.worker = startThread(import.meta.url, 'worker', start));
    return new Promise((resolve, reject) => {
      let ready = false;
      let why = '';
      worker.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          ready = t.alive = true;
          resolve(m.ports);
        } else if (m.t === 'failed') why = m.message;
        else this.onMessage(t, m);
      });
      worker.on('error', (e) => {
        why ||= e.message;
        d.log.error({ err: e.message, worker: index }, 'a data-plane worker thread failed');
      });
      worker.on('exit', (code) => {
        t.active = t.pending = 0;
        t.alive = false;
        t.closed?.();
        for (const done of t.drains.values()) done();
        t.drains.clear();
        for (const k of t.kills.values()) k.answer(noSuchConnection(k.target));
        t.kills.clear();
        if (!ready) return reject(new Error(`data-plane worker ${index} could not start: ${why || `it exited (code ${code})`}`));
        if (this.closing) return;
        // its connections are gone with it; a new thread takes its place on the port
        d.log.error({ worker: index, code }, 'a data-plane worker thread exited; starting another');
        setTimeout(() => {
          if (!this.closing) this.spawn(index).catch((e: Error) => d.log.error({ err: e.message, worker: index }, 'a data-plane worker thread could not start'));
        }, RESTART_MS).unref();
      });
    });
  }

  private onMessage(t: Thread, m: FromWorker): void {
    const d = this.deps;
    const reply = (id: number, p: Promise<unknown>) =>
      p.then(
        (value) => t.worker.postMessage({ t: 'reply', id, ok: true, value } satisfies ToWorker),
        (e: Error) => t.worker.postMessage({ t: 'reply', id, ok: false, message: e.message } satisfies ToWorker),
      );
    switch (m.t) {
      case 'rpc':
        if (m.op === 'admit') {
          const r = m.req;
          void reply(m.id, d.admission.admit({ credential: credentialOf(r.credential), connection: r.connection, clientAddr: r.clientAddr, type: r.door, frontDoor: r.door }));
        } else if (m.op === 'nativeKnown') void reply(m.id, d.nativeKnown(asBuffer(m.scramble), asBuffer(m.response)));
        else if (m.op === 'kill') void reply(m.id, this.kill(m.target, m.by, m.connection));
        else if (m.op === 'hold') void reply(m.id, d.desk.hold(m.req as HoldRequest));
        else if (m.op === 'activeGrant') void reply(m.id, d.desk.activeGrant(m.identity as Identity, m.connection));
        else {
          const ac = new AbortController();
          t.aborts.set(m.id, ac);
          void reply(m.id, d.desk.awaitApproval(m.req as HoldRequest, m.reviewId, m.ms, ac.signal).finally(() => t.aborts.delete(m.id)));
        }
        break;
      case 'abort':
        t.aborts.get(m.id)?.abort();
        break;
      case 'events':
        this.record(t, m.items, m.ids);
        break;
      case 'session': {
        const handle: LiveHandle = {
          isEnded: false,
          terminate: async (reason) => {
            handle.isEnded = true;
            t.worker.postMessage({ t: 'terminate', sessionId: m.id, reason } satisfies ToWorker);
          },
        };
        d.live.set(m.id, handle);
        d.opened(m.protocol, m.connection);
        break;
      }
      case 'ended':
        for (const id of m.ids) {
          const h = d.live.get(id);
          if (h) h.isEnded = true;
        }
        break;
      case 'refused':
        d.refused(m.reason, m.clientAddr, m.door);
        break;
      case 'recordError':
        d.recordError(new Error(m.message));
        break;
      case 'gauges':
        t.active = m.active;
        t.pending = m.pending;
        break;
      case 'cancel':
        this.cancel(m.pid, m.key);
        break;
      case 'drained':
        t.drains.get(m.id)?.();
        t.drains.delete(m.id);
        break;
      case 'killAnswer':
        t.kills.get(m.id)?.answer(m.answer);
        t.kills.delete(m.id);
        break;
      case 'closed':
        t.closed?.();
        break;
    }
  }

  /** A worker's events into the log in the order it sent them; its persists answered once synced. */
  private record(t: Thread, packed: PackedItems, ids: number[]): void {
    const d = this.deps;
    const items = unpackItems(packed);
    const synced: Promise<void>[] = [];
    const done: number[] = [];
    const failed = new Map<string, number[]>();
    items.forEach((item, i) => {
      const id = ids[i]!;
      if (id === 0) return d.audit.postEncoded(item, d.recordError);
      synced.push(
        d.audit.persistEncoded(item).then(
          () => void done.push(id),
          (e: Error) => {
            const same = failed.get(e.message);
            if (same) same.push(id);
            else failed.set(e.message, [id]);
          },
        ),
      );
    });
    if (synced.length === 0) return;
    void Promise.all(synced).then(() => {
      if (done.length) t.worker.postMessage({ t: 'persisted', ids: done } satisfies ToWorker);
      for (const [message, list] of failed) t.worker.postMessage({ t: 'unpersisted', ids: list, message } satisfies ToWorker);
    });
  }
}
