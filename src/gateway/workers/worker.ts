// A data-plane worker thread: it listens on the Postgres and MySQL doors' ports beside the
// other workers (reusePort: the kernel spreads connections) and serves its connections
// whole — frames, relay, policy, masking, the sessions' records encoded. What must be
// shared is asked of the main thread (messages.ts): admission, reviews, the audit log,
// revocations, a cancel or KILL of another thread's session. Anything it cannot ask fails
// the command closed: an rpc that errs blocks it, a record the main thread cannot write
// refuses it.
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { ConnectionConfig, DatabaseConnectionConfig } from '../../config/schema.ts';
import { noSuchConnection, type Engine, type KillAnswer } from '../../protocols/engine.ts';
import type { AdmissionAnswer } from '../../session/admission.ts';
import type { Session } from '../../session/session.ts';
import { initPostgresParser } from '../../sql/postgres.ts';
import { EmbeddedDialer } from '../../tunnel/dialer.ts';
import { compileDataPlane, doorSettings, sessionOpener } from '../data-plane.ts';
import { ENGINES } from '../engines.ts';
import { EventRelay } from './event-relay.ts';
import type { FromWorker, ToWorker, WireCredential, WorkerDoor, WorkerStart } from './messages.ts';
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
const doors = new Map<WorkerDoor, Engine<ConnectionConfig>>();
for (const door of Object.keys(start.listen) as WorkerDoor[]) {
  const make = await ENGINES[door]!.load();
  doors.set(door, make({
    // The answer names the connection as the main thread's config has it: this thread's own
    // object is used, so the door's per-connection catalogs are shared by its sessions.
    admit: async (req) => {
      const a = await rpc.call<AdmissionAnswer<ConnectionConfig>>({ op: 'admit', req: { door, credential: req.credential as WireCredential, connection: req.connection, clientAddr: req.clientAddr } });
      if (!a.ok) return a;
      const own = plane.byName.get(a.connection.name);
      return own ? { ...a, connection: own } : { ok: false, refusal: { kind: 'unknown_connection', message: `no connection named "${a.connection.name}"` } };
    },
    openSession,
    // worker threads serve only connections dialed from the gateway (config: gateway.workers)
    dial: (c) => dialer.dial({ host: (c as DatabaseConnectionConfig).host, port: (c as DatabaseConnectionConfig).port, agent: c.agent }),
    ...doorSettings(config, plane, door, start.tls, log),
    onRefused: (reason, clientAddr) => send({ t: 'refused', reason, clientAddr, door }),
    nativeKnown: (scramble, response) => rpc.call<boolean>({ op: 'nativeKnown', scramble, response }),
    // the SSH door stays on the main thread
    sshKeyKnown: () => Promise.resolve(false),
    cancelElsewhere: (pid, key) => send({ t: 'cancel', pid, key }),
    connectionIds: start.connectionIds,
    killElsewhere: (target, by, connection) => rpc.call<KillAnswer>({ op: 'kill', target, by, connection }),
  }));
}
const engines = [...doors.values()];

// Gauges for the main thread's metrics, and the sessions that ended (the console's live list).
const gauges = setInterval(() => {
  send({ t: 'gauges', active: engines.reduce((n, e) => n + e.activeSessions, 0), pending: engines.reduce((n, e) => n + (e.pendingHandshakes ?? 0), 0) });
  const ended = [...live.values()].filter((s) => s.isEnded).map((s) => s.info.id);
  for (const id of ended) live.delete(id);
  if (ended.length) send({ t: 'ended', ids: ended });
  revoked.prune();
}, GAUGE_MS);
gauges.unref();

async function close(): Promise<void> {
  clearInterval(gauges);
  await Promise.all(engines.map((e) => e.close()));
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
      void doors.get('postgres')?.cancel?.(m.pid, m.key).catch(() => {});
      break;
    case 'kill': {
      const answer = doors.get('mysql')?.killTarget?.(m.target, m.by, m.connection) ?? noSuchConnection(m.target);
      send({ t: 'killAnswer', id: m.id, answer });
      break;
    }
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
  const ports: Partial<Record<WorkerDoor, number>> = {};
  for (const [door, engine] of doors) {
    const want = start.listen[door]!;
    ports[door] = (await engine.listen(want.host, want.port, { reusePort: true })).port;
  }
  send({ t: 'ready', ports });
} catch (e) {
  send({ t: 'failed', message: (e as Error).message });
  process.exit(1);
}
