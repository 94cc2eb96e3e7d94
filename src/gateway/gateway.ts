// The composition root: the only place that wires config, store, audit log, identity,
// policy, the session pipeline, the dialer and the front doors together.
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { postgresConnectionSchema, type WardenConfig, type ConnectionConfig, type DatabaseConnectionConfig, type GitConnectionConfig, type HttpConnectionConfig } from '../config/schema.ts';
import { checkAccess } from '../session/access.ts';
import { writeHints } from '../policy/hints.ts';
import { compileDataPlane, doorSettings, recordingLimits, sessionOpener } from './data-plane.ts';
import { initPostgresParser } from '../sql/postgres.ts';
import { mountReviewRoutes } from '../reviews/http-routes.ts';
import { AgentRouter, EmbeddedDialer } from '../tunnel/dialer.ts';
import { mountAgentTunnel } from '../tunnel/endpoint.ts';
import { Admission, type AdmissionAnswer } from '../session/admission.ts';
import { findSshKey } from '../store/ssh-keys.ts';
import { mountSshKeyRoutes } from './ssh-key-routes.ts';
import { mountHttpProxy } from '../protocols/http/proxy.ts';
import { mountGitDoor } from '../protocols/git/door.ts';
import { mountHostRefusal, proxyHostRewrite } from '../protocols/http/host-route.ts';
import type { Engine } from '../protocols/engine.ts';
import { ENGINES } from './engines.ts';
import { InProcessExecutor } from './executor.ts';
import { ExecRunner } from '../protocols/exec/runner.ts';
import { openServices, type Services } from './services.ts';
import { ensureDataDir, dataDirWarning } from '../store/data-dir.ts';
import { buildHttpApi } from './http-api.ts';
import { mountAuthRoutes } from './auth-routes.ts';
import { mountConsole } from './console.ts';
import { installCookieRules } from './console-auth.ts';
import { gatewayMetrics } from './metrics.ts';
import { gatewayCertificate } from './tls.ts';
import type { DemoTarget } from './demo.ts';
import { parseDuration } from '../config/duration.ts';
import { mountMcp } from '../mcp/http.ts';
import { mountExecRoute } from './exec-route.ts';
import { hostPort } from '../config/listen.ts';
import { measuredLedger } from './usage-metrics.ts';
import type { WorkerPool } from './workers/pool.ts';
import { WORKER_DOORS, type WorkerDoor } from './workers/messages.ts';
import { noSuchConnection } from '../protocols/engine.ts';

export interface GatewayHandle {
  httpUrl: string;
  postgres: { host: string; port: number } | null;
  /** the MySQL door (open when a mysql connection is configured) */
  mysql: { host: string; port: number } | null;
  /** the SSH door (open when an ssh connection is configured) */
  ssh: { host: string; port: number } | null;
  demo: DemoTarget | null;
  /** printed once: the admin token made on the first start */
  bootstrapToken: string | null;
  services: Services;
  log: Logger;
  close(): Promise<void>;
}

export async function startGateway(config: WardenConfig, opts: { demo?: boolean; log?: Logger } = {}): Promise<GatewayHandle> {
  const log = opts.log ?? pino({ level: config.gateway.logLevel });
  // 0700 before any file (keys, store, certificate) is written into it.
  const dirWarning = dataDirWarning(config.gateway.dataDir, ensureDataDir(config.gateway.dataDir));
  if (dirWarning) log.warn(dirWarning);
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    let demo: DemoTarget | null = null;
    if (opts.demo || config.connections.length === 0) {
      // Loaded only when used: PGlite alone adds ~50 MB to the gateway's memory.
      const { startDemoTarget } = await import('./demo.ts');
      demo = await startDemoTarget();
      cleanups.push(() => demo!.close());
      // Parsed by the schema so every default a connection has applies to the demo too.
      const demoConn = postgresConnectionSchema.parse({
        name: 'demo', type: 'postgres', description: 'Demo database (PGlite) with sample customers',
        host: demo.host, port: demo.port, database: demo.database, user: demo.user, tls: false,
        access: { groups: ['admin', 'demo'] },
      });
      config = { ...config, connections: [...config.connections.filter((c) => c.name !== 'demo'), demoConn] };
    }

    const metrics = gatewayMetrics();
    const services = await openServices(config, { writer: true, log, metrics });
    cleanups.push(() => services.close());
    const bootstrapToken = await services.bootstrapAdmin();

    await initPostgresParser();
    const plane = compileDataPlane(config);
    const { policy, byName, maskers } = plane;
    // Just-in-time approval: held commands, votes, access windows (src/reviews). Webhooks carry commands masked.
    let httpBase = `http://${config.gateway.listen.http}`;
    const desk = await services.reviewDesk({ baseUrl: () => httpBase, maskCommand: (connection, text) => maskers.get(connection)?.maskText(text) ?? '[withheld]', log });
    cleanups.push(() => desk.close());
    const guard = plane.guard(desk);
    const dialer = new AgentRouter(new EmbeddedDialer());
    const limits = recordingLimits(config);

    // Open sessions by id, so the console can end one; ended ones are dropped as they are found.
    // A data-plane worker's sessions are here too, as the handle that asks it to end one.
    const live = new Map<string, { isEnded: boolean; terminate(reason: string): Promise<void> }>();
    const pruneLive = setInterval(() => {
      for (const [id, s] of live) if (s.isEnded) live.delete(id);
    }, 30_000);
    pruneLive.unref();
    cleanups.push(() => clearInterval(pruneLive));
    const recordError = (e: unknown) => {
      metrics.recordErrors.inc();
      log.error({ err: (e as Error).message }, 'a record could not be written');
    };
    const openSession = sessionOpener(config, plane, {
      events: services.audit,
      guard,
      credentials: services.credentials,
      onRecordError: recordError,
      opened: (session) => {
        metrics.sessions.inc({ protocol: session.info.protocol, connection: session.info.connection });
        live.set(session.info.id, session);
      },
    });

    const gatewayTls = await gatewayCertificate(config.gateway.dataDir, config.gateway.tls);
    // Admission, one call for every door and for the in-process executor (src/session/admission.ts).
    const admission = new Admission<ConnectionConfig>({
      connection: (name) => byName.get(name),
      authenticate: (token, ctx) => services.authenticateDetailed(token, ctx),
      authenticateNative: (scramble, response, ctx) => services.authenticateNativeDetailed(scramble, response, ctx),
      authenticateSshKey: (fingerprint, ctx) => services.identity.authenticateSshKey(fingerprint, ctx),
      grants: desk,
      denied: (who, ctx) => services.auditDenied(who, ctx),
      // The http and git doors open a session per request, whose session.start names the caller, address
      // and connection: an auth.ok per request would say it twice and, being durable, make every
      // request wait for a commit even with async recording (bench:http).
      admitted: (who, ctx) => (ctx.frontDoor === 'http' || ctx.frontDoor === 'git' ? Promise.resolve() : services.auditOk(who, ctx)),
      count: (frontDoor, reason) => metrics.authFailures.inc({ frontDoor, reason }),
    });
    // The engines (src/gateway/engines.ts), each with its door; a door listens when its key is set
    // (the MySQL one only when a mysql connection exists). In-process clients need no listener.
    const engines = new Map<string, Engine<ConnectionConfig>>();
    // Data-plane worker threads (gateway.workers) listen on the Postgres and MySQL doors' ports
    // instead of this thread, whose doors then serve in-process clients (MCP, exec).
    const workers = config.gateway.workers;
    let pool: WorkerPool | null = null;
    const toWorkers = new Map<WorkerDoor, { host: string; port: number }>();
    const addresses: Record<string, { host: string; port: number } | null> = { postgres: null, mysql: null, ssh: null };
    // With workers, MySQL connection ids and Postgres cancel-key pids carry the thread that gave them (ConnectionIds): 0 here.
    const connectionIds = workers > 0 ? { offset: 0, stride: workers + 1 } : undefined;
    for (const [type, reg] of Object.entries(ENGINES)) {
      if (!reg.listenAlways && !config.connections.some((c) => c.type === type)) continue;
      const make = await reg.load();
      const engine = make({
        admit: (req) => admission.admit({ ...req, type, frontDoor: type }),
        openSession,
        // the wire engines serve connections with a host and a port (databases, ssh)
        dial: (c) => dialer.dial({ host: (c as DatabaseConnectionConfig).host, port: (c as DatabaseConnectionConfig).port, agent: c.agent }),
        ...doorSettings(config, plane, type, gatewayTls, log),
        onRefused: (reason, clientAddr) => void services.countRefusal(reason, { clientAddr, frontDoor: type }),
        nativeKnown: (scramble, response) => services.nativeScrambleKnown(scramble, response),
        sshKeyKnown: async (fingerprint) => (await findSshKey(services.store, fingerprint))?.revokedAt === null,
        cancelElsewhere: (pid, key) => pool?.cancel(pid, key),
        connectionIds,
        killElsewhere: (target, by, connection) => pool ? pool.kill(target, by, connection) : Promise.resolve(noSuchConnection(target)),
      });
      engines.set(type, engine);
      cleanups.push(() => engine.close());
      const at = config.gateway.listen[reg.listen];
      if (!at) continue;
      if (workers > 0 && (WORKER_DOORS as readonly string[]).includes(type)) toWorkers.set(type as WorkerDoor, hostPort(at));
      else addresses[type] = await engine.listen(hostPort(at).host, hostPort(at).port);
    }
    if (toWorkers.size > 0) {
      const { WorkerPool } = await import('./workers/pool.ts');
      pool = await WorkerPool.start({
        count: workers, config, tls: gatewayTls, listen: Object.fromEntries(toWorkers), admission, desk, audit: services.audit, revocations: services.credentials, live,
        cancelHere: (pid, key) => void engines.get('postgres')?.cancel?.(pid, key).catch(() => {}),
        killHere: (target, by, connection) => engines.get('mysql')?.killTarget?.(target, by, connection) ?? noSuchConnection(target),
        nativeKnown: (scramble, response) => services.nativeScrambleKnown(scramble, response),
        opened: (protocol, connection) => metrics.sessions.inc({ protocol, connection }),
        recordError,
        refused: (reason, clientAddr, door) => void services.countRefusal(reason, { clientAddr, frontDoor: door }),
        log,
      });
      cleanups.push(() => pool!.close());
      Object.assign(addresses, pool.addresses);
      const workersOf = pool;
      metrics.metrics.labelledGauge('warden_worker_sessions_active', 'Sessions open now on each data-plane worker thread (gateway.workers)', () =>
        workersOf.sessionsPerWorker.map((n, i) => [{ worker: String(i) }, n]),
      );
    }
    const pgAddr = addresses.postgres ?? null;
    const myAddr = addresses.mysql ?? null;
    const sum = (f: (e: { activeSessions: number; pendingHandshakes?: number }) => number) => () => [...engines.values(), ...(pool ? [pool] : [])].reduce((n, e) => n + f(e), 0);
    metrics.metrics.gauge('warden_sessions_active', 'Sessions open now', sum((e) => e.activeSessions));
    metrics.metrics.gauge('warden_handshakes_pending', 'Connections at a wire door not yet admitted', sum((e) => e.pendingHandshakes ?? 0));

    const app = buildHttpApi({
      authenticate: (token, clientAddr) => services.authenticateDetailed(token, { clientAddr, frontDoor: 'http' }),
      hasRole: (who, role) => services.hasRole(who, role),
      roles: (who) => services.roles(who),
      connections: (who) => services.connectionsFor(who),
      listSessions: (q) => services.listSessions(q),
      searchCommands: (q) => services.searchCommands(q),
      usage: (q) => services.usage.list(q),
      getSession: (id) => services.getSession(id),
      revealOriginals: (id, seq, by) => services.revealOriginals(id, seq, by.name),
      createToken: (req, by) => services.createToken(req, by.name),
      verifyAudit: () => services.verifyAudit(),
      metrics: () => metrics.metrics.render(),
      metricsToken: config.gateway.metricsToken ?? null,
      health: () => services.health(),
      // <connection>.<proxyDomain> reaches only the proxy, whatever its path (src/protocols/http/host-route.ts)
      ...(config.gateway.proxyDomain ? { rewriteUrl: proxyHostRewrite(config.gateway.proxyDomain) } : {}),
    });
    // The console's cookie: API reads, and writes that prove they come from the console (console-auth.ts).
    installCookieRules(app, config.auth.publicUrl);
    if (config.gateway.proxyDomain) mountHostRefusal(app, config.gateway.proxyDomain);
    mountAuthRoutes(app, services, log);
    mountSshKeyRoutes(app, services);
    // -- remote agents: tunnel endpoint is mounted here (src/tunnel) --
    mountAgentTunnel(app, { services, router: dialer, log });
    mountReviewRoutes(app, { desk, authenticate: (token, clientAddr) => services.authenticate(token, { clientAddr, frontDoor: 'http' }) });
    // The web console at / (src/gateway/console.ts, web/).
    mountConsole(app, { services, desk, connections: config.connections, rules: config.rules, log, liveSession: (id) => live.get(id) });
    // HTTP APIs (src/protocols/http): /proxy/<connection>/... on this listener, each request
    // admitted, judged, recorded and masked as it streams, sent with the connection's credential.
    if (config.connections.some((c) => c.type === 'http')) {
      const usage = measuredLedger(services.usage, metrics, (e) => log.error({ err: e.message }, 'LLM usage could not be written'));
      cleanups.push(() => usage.close());
      mountHttpProxy(app, {
        admit: async (req) => (await admission.admit({ ...req, type: 'http', frontDoor: 'http' })) as AdmissionAnswer<HttpConnectionConfig>,
        openSession,
        dial: (c) => dialer.dial(c),
        masker: (name) => maskers.get(name) ?? null,
        recordBytes: limits.maxBytes,
        readsBody: (r) => policy.readsHttpBody({ identity: r.identity, connection: { name: r.connection.name, type: 'http', rules: r.connection.rules }, method: r.method, path: r.path }),
        usage,
        log,
      });
    }

    // Git remotes (src/protocols/git): /git/<connection>/<repo>/... on this listener, smart HTTP
    // only; each request judged and recorded, a push read whole (spooled) before it may leave.
    if (config.connections.some((c) => c.type === 'git')) {
      mountGitDoor(app, {
        admit: async (req) => (await admission.admit({ ...req, type: 'git', frontDoor: 'git' })) as AdmissionAnswer<GitConnectionConfig>,
        openSession,
        dial: (c) => dialer.dial(c),
        spoolDir: join(config.gateway.dataDir, 'git-spool'),
        log,
      });
    }

    // MCP (src/mcp) and `warden exec` (POST /api/v1/exec) run statements in-process: through
    // admission, the pipeline and an engine's relay, as the caller, with Decisions as data.
    const m = config.gateway.mcp;
    const executor = new InProcessExecutor({ admission, engine: (type) => engines.get(type), idleMs: parseDuration(m.idleTimeout) });
    cleanups.push(() => executor.close());
    // exec connections: one command per session, run where the connection's agent is
    const runner = new ExecRunner({ admission, openSession, exec: (agent, spec) => dialer.execOn(agent, spec), keepBytes: limits.maxBytes });
    const mcp = mountMcp(app, {
      authenticate: (token, clientAddr, audience) => services.authenticateDetailed(token, { clientAddr, frontDoor: 'mcp' }, { audience }),
      connections: (who) => services.connectionsFor(who),
      desk, executor, runner,
      describe: (connection, detail, pattern, limit) => {
        const c = byName.get(connection);
        return (c && engines.get(c.type)?.describe(detail, pattern, limit)) ?? null;
      },
      baseUrl: () => httpBase, issuer: config.auth.oidc?.issuer ?? null, scopes: config.auth.oidc?.scopes ?? null, resource: m.resource ?? null,
      allowedOrigins: m.allowedOrigins, caps: { maxRows: m.maxRows, maxBytes: m.maxBytes, timeoutMs: parseDuration(m.statementTimeout) }, version: '0.1.0', log,
      hints: (who) => writeHints(policy, who, config.connections.filter((c) => checkAccess(who, c).allowed).map((c) => ({ name: c.name, onUnknown: c.onUnknown, rules: c.rules }))),
    });
    cleanups.push(() => mcp.close());
    mountExecRoute(app, { executor, runner, authenticate: (token, clientAddr) => services.authenticateDetailed(token, { clientAddr, frontDoor: 'http' }) });

    const httpWant = hostPort(config.gateway.listen.http);
    await app.listen({ host: httpWant.host, port: httpWant.port });
    cleanups.push(() => app.close());
    // before the app closes (cleanups run in reverse): a streaming command would hold it open
    cleanups.push(() => runner.close());
    const httpPort = (app.server.address() as { port: number }).port;
    httpBase = `http://${httpWant.host.includes(':') ? `[${httpWant.host}]` : httpWant.host}:${httpPort}`;
    // Gateway tokens minted for clients from now on name the MCP resource in their audience.
    services.identity.mcpResource = config.gateway.mcp.resource ?? `${httpBase}/mcp`;

    return {
      httpUrl: `http://${httpWant.host.includes(':') ? `[${httpWant.host}]` : httpWant.host}:${httpPort}`,
      postgres: pgAddr,
      mysql: myAddr,
      ssh: addresses.ssh ?? null,
      demo,
      bootstrapToken,
      services,
      log,
      close: async () => {
        for (const c of cleanups.reverse()) await c();
      },
    };
  } catch (e) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    throw e;
  }
}
