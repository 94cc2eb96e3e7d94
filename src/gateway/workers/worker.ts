// A data-plane worker thread: it listens on the Postgres door's port beside the other
// workers (reusePort: the kernel spreads connections) and serves its connections whole —
// frames, relay, policy, masking, the sessions' records encoded. What must be shared is
// asked of the main thread (messages.ts): admission, reviews, the audit log, revocations.
// Anything it cannot ask fails the command closed: an rpc that errs blocks it, a record
// the main thread cannot write refuses it.
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import type { AdmissionAnswer } from '../../session/admission.ts';
import type { Session } from '../../session/session.ts';
import { initPostgresParser } from '../../sql/postgres.ts';
import { EmbeddedDialer } from '../../tunnel/dialer.ts';
import { compileDataPlane, doorSettings, sessionOpener } from '../data-plane.ts';
import { ENGINES } from '../engines.ts';
import { EventRelay } from './event-relay.ts';
import type { FromWorker, Rpc, ToWorker, WorkerStart } from './messages.ts';
import { RevokedIds } from '../../identity/revoked-ids.ts';
import { deskOver, RpcClient } from './rpc.ts';

/** how long a record nobody waits for may wait for company before it crosses to the main thread */
const POST_FLUSH_MS = 10;
const GAUGE_MS = 1000;

const start = workerData as WorkerStart;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const { config } = start;
const log = pino({ level: config.gateway.logLevel }).child({ worker: start.index });

const rpc = new RpcClient(send);
const desk = deskOver(rpc, send);

await initPostgresParser();
const plane = compileDataPlane(config);
const events = new EventRelay(port, POST_FLUSH_MS);
// a copy of the main thread's list, told each id it adds
const revoked = new RevokedIds(start.revoked);
const live = new Map<string, Session>();
const openSession = sessionOpener(config, plane, {
  events,
  guard: plane.guard(desk),
  credentials: revoked,
  onRecordError: (e) => send({ t: 'recordError', message: (e as Error).message }),
  opened: (s) => {
    live.set(s.info.id, s);
    send({ t: 'session', id: s.info.id, protocol: s.info.protocol, connection: s.info.connection });
  },
});

const dialer = new EmbeddedDialer();
const make = await ENGINES.postgres.load();
const engine = make({
  // The answer names the connection as the main thread's config has it: this thread's own
  // object is used, so the door's per-connection catalogs are shared by its sessions.
  admit: async (req) => {
    const a = await rpc.call<AdmissionAnswer<PostgresConnectionConfig>>({ op: 'admit', req: req as Extract<Rpc, { op: 'admit' }>['req'] });
    if (!a.ok) return a;
    const own = plane.byName.get(a.connection.name) as PostgresConnectionConfig | undefined;
    return own ? { ...a, connection: own } : { ok: false, refusal: { kind: 'unknown_connection', message: `no connection named "${a.connection.name}"` } };
  },
  openSession,
  // worker threads serve only connections dialed from the gateway (config: gateway.workers)
  dial: (c) => dialer.dial({ host: (c as PostgresConnectionConfig).host, port: (c as PostgresConnectionConfig).port, agent: (c as PostgresConnectionConfig).agent }),
  ...doorSettings(config, plane, 'postgres', start.tls, log),
  onRefused: (reason, clientAddr) => send({ t: 'refused', reason, clientAddr }),
  // the MySQL and SSH doors stay on the main thread
  nativeKnown: () => Promise.resolve(false),
  sshKeyKnown: () => Promise.resolve(false),
  cancelElsewhere: (pid, key) => send({ t: 'cancel', pid, key }),
});

// Gauges for the main thread's metrics, and the sessions that ended (the console's live list).
const gauges = setInterval(() => {
  send({ t: 'gauges', active: engine.activeSessions, pending: engine.pendingHandshakes ?? 0 });
  const ended = [...live.values()].filter((s) => s.isEnded).map((s) => s.info.id);
  for (const id of ended) live.delete(id);
  if (ended.length) send({ t: 'ended', ids: ended });
  revoked.prune();
}, GAUGE_MS);
gauges.unref();

async function close(): Promise<void> {
  clearInterval(gauges);
  await engine.close();
  // the sessions' last records (session.end) were queued as their relays closed
  await new Promise((r) => setImmediate(r));
  events.close();
  send({ t: 'closed' });
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'reply':
      rpc.answer(m);
      break;
    case 'persisted':
    case 'unpersisted':
      events.settle(m);
      break;
    case 'revoked':
      revoked.add(m.id, m.expiresAt);
      break;
    case 'terminate':
      void live.get(m.sessionId)?.terminate(m.reason);
      break;
    case 'cancel':
      void engine.cancel?.(m.pid, m.key).catch(() => {});
      break;
    case 'drain':
      events.send();
      send({ t: 'drained', id: m.id });
      break;
    case 'close':
      void close().catch((e: Error) => log.error({ err: e.message }, 'a worker thread did not close cleanly'));
      break;
  }
});

try {
  const at = await engine.listen(start.listen.host, start.listen.port, { reusePort: true });
  send({ t: 'ready', port: at.port });
} catch (e) {
  send({ t: 'failed', message: (e as Error).message });
  process.exit(1);
}
