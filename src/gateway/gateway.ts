// The composition root: the only place that wires config, store, audit log, identity,
// policy, the session pipeline, the dialer and the front doors together.
import pino, { type Logger } from 'pino';
import { postgresConnectionSchema, type WardenConfig, type ConnectionConfig } from '../config/schema.ts';
import { compileMasker, resolveMaskingConfig, type Masker } from '../masking/index.ts';
import { maskingKey, originalsKey } from './keys.ts';
import { Session } from '../session/session.ts';
import { checkAccess, checkAccessOrGrant } from '../session/access.ts';
import type { SessionInfo, TargetFacts } from '../session/types.ts';
import { rulesReadSchemas } from '../policy/schemas.ts';
import { PolicyGuard } from '../policy/guard.ts';
import { compilePolicy } from '../policy/policy.ts';
import { writeHints } from '../policy/hints.ts';
import { rulesSchema } from '../policy/rule-schema.ts';
import { initPostgresParser } from '../sql/postgres.ts';
import { ReviewDesk } from '../reviews/desk.ts';
import { mountReviewRoutes } from '../reviews/http-routes.ts';
import { AgentRouter, EmbeddedDialer } from '../tunnel/dialer.ts';
import { mountAgentTunnel } from '../tunnel/endpoint.ts';
import { PostgresFrontDoor, AdmissionError } from '../protocols/postgres/listener.ts';
import { MysqlFrontDoor, MysqlAdmissionError } from '../protocols/mysql/listener.ts';
import { loadOrCreateRsaKeys } from '../protocols/mysql/auth.ts';
import { openServices, type Services } from './services.ts';
import { ensureDataDir, dataDirWarning } from '../store/data-dir.ts';
import { buildHttpApi } from './http-api.ts';
import { mountAuthRoutes } from './auth-routes.ts';
import { gatewayMetrics } from './metrics.ts';
import { gatewayCertificate } from './tls.ts';
import type { DemoTarget } from './demo.ts';
import { parseDuration } from '../config/duration.ts';
import { mountMcp } from '../mcp/http.ts';
import { mountExecRoute } from './exec-route.ts';
import { hostPort, localHostFor } from '../config/listen.ts';
import { McpSessionTags } from '../mcp/session-tags.ts';

export interface GatewayHandle {
  httpUrl: string;
  postgres: { host: string; port: number } | null;
  /** the MySQL door (open when a mysql connection is configured) */
  mysql: { host: string; port: number } | null;
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
    const policyRules = rulesSchema.parse(config.rules);
    const policy = compilePolicy(policyRules);
    const byName = new Map<string, ConnectionConfig>(config.connections.map((c) => [c.name, c]));
    // One masker per connection, compiled once; the key keeps hashed values stable across restarts.
    const hmacKey = maskingKey(config.gateway.dataDir);
    const maskers = new Map<string, Masker>(config.connections.map((c) => [c.name, compileMasker(resolveMaskingConfig(config.masking, c.masking), { hmacKey })]));
    // Just-in-time approval: held commands, votes, access windows (src/reviews). Webhooks carry commands masked.
    let httpBase = `http://${config.gateway.listen.http}`;
    const desk = new ReviewDesk({
      store: services.store, audit: services.audit, config: config.reviews, connection: (n) => byName.get(n), baseUrl: () => httpBase, hasRole: (i, r) => services.hasRole(i, r),
      maskCommand: (connection, text) => maskers.get(connection)?.maskText(text) ?? '[withheld]', log,
    });
    cleanups.push(() => desk.close());
    const guard = new PolicyGuard(policy, (name) => {
      const c = byName.get(name);
      return c && { name: c.name, type: c.type, onUnknown: c.onUnknown, rules: c.rules, access: c.access, reviews: c.reviews };
    }, desk);
    const sealKey = [...maskers.values()].some((m) => m.enabled && m.config.keepOriginals) ? originalsKey(config.gateway.dataDir) : null;
    const dialer = new AgentRouter(new EmbeddedDialer());
    const limits = { maxRows: config.gateway.recording.maxRows, maxBytes: config.gateway.recording.maxBytes };
    const mcpTags = new McpSessionTags(services.store, services.audit);

    const openSession = async (info: Omit<SessionInfo, 'id' | 'startedAt'>, target?: TargetFacts) => {
      const session = new Session({ ...info, id: Session.newId(), startedAt: Date.now() }, {
        events: services.audit,
        mode: config.gateway.recording.mode,
        guard,
        credentials: services.credentials,
        endOnExpiry: config.auth.endSessionsOnExpiry,
        masker: maskers.get(info.connection) ?? null,
        originalsKey: sealKey,
        target,
        onRecordError: (e) => {
          metrics.recordErrors.inc();
          log.error({ err: (e as Error).message }, 'a record could not be written');
        },
      });
      await session.start();
      mcpTags.noteOpened(info.attributes?.application_name, session.info.id);
      metrics.sessions.inc({ protocol: info.protocol, connection: info.connection });
      return session;
    };

    const gatewayTls = await gatewayCertificate(config.gateway.dataDir, config.gateway.tls);
    let pgDoor: PostgresFrontDoor | null = null;
    let pgAddr: { host: string; port: number } | null = null;
    if (config.gateway.listen.postgres) {
      pgDoor = new PostgresFrontDoor({
        admit: async ({ token, connection, clientAddr }) => {
          const conn = byName.get(connection);
          const auth = await services.authenticateDetailed(token, { clientAddr, frontDoor: 'postgres', connection });
          if (!auth.ok && auth.reason === 'rate_limited') throw new AdmissionError('too many failed attempts; try again later', '28000');
          if (!auth.ok) throw new AdmissionError('password authentication failed (the password must be a valid Warden access token)', '28P01');
          const who = auth.identity;
          if (!conn || conn.type !== 'postgres') {
            await services.auditDenied(who, { connection, clientAddr, frontDoor: 'postgres', reason: 'no such postgres connection' });
            metrics.authFailures.inc({ frontDoor: 'postgres', reason: 'unknown_connection' });
            throw new AdmissionError(`no postgres connection named "${connection}" (connect with user=<connection name>)`);
          }
          const access = await checkAccessOrGrant(who, conn, desk);
          if (!access.allowed) {
            await services.auditDenied(who, { connection, clientAddr, frontDoor: 'postgres', reason: access.reason });
            metrics.authFailures.inc({ frontDoor: 'postgres', reason: 'access_denied' });
            throw new AdmissionError(access.reason, '42501');
          }
          await services.auditOk(who, { clientAddr, frontDoor: 'postgres', connection });
          return { identity: who, connection: conn };
        },
        openSession,
        searchPathMatters: (c) => rulesReadSchemas([...policyRules, ...(c.rules ?? [])]) || (maskers.get(c.name)?.config.columns.some((r) => r.match.includes('.')) ?? false),
        dial: (c) => dialer.dial({ host: c.host, port: c.port, agent: c.agent }),
        tls: gatewayTls,
        handshake: { timeoutMs: config.gateway.handshake.timeout, maxPending: config.gateway.handshake.maxPending },
        onRefused: (reason, clientAddr) => void services.countRefusal(reason, { clientAddr, frontDoor: 'postgres' }),
        maxMessageBytes: config.gateway.maxMessageBytes,
        limits,
        log,
      });
      const want = hostPort(config.gateway.listen.postgres);
      pgAddr = await pgDoor.listen(want.host, want.port);
      cleanups.push(() => pgDoor!.close());
    }

    // The MySQL door (src/protocols/mysql), wired like the Postgres one; it opens only
    // when there is a mysql connection to reach.
    let myDoor: MysqlFrontDoor | null = null;
    let myAddr: { host: string; port: number } | null = null;
    const mysqlConnections = config.connections.filter((c) => c.type === 'mysql');
    if (config.gateway.listen.mysql && mysqlConnections.length) {
      myDoor = new MysqlFrontDoor({
        admit: async ({ credential, connection, clientAddr }) => {
          const conn = byName.get(connection);
          const ctx = { clientAddr, frontDoor: 'mysql', connection };
          const auth = credential.kind === 'token' ? await services.authenticateDetailed(credential.token, ctx) : await services.authenticateNativeDetailed(credential.scramble, credential.response, ctx);
          if (!auth.ok && auth.reason === 'rate_limited') throw new MysqlAdmissionError('too many failed attempts; try again later');
          if (!auth.ok) throw new MysqlAdmissionError('access denied (the password must be a valid Warden access token)');
          const who = auth.identity;
          if (!conn || conn.type !== 'mysql') {
            await services.auditDenied(who, { connection, clientAddr, frontDoor: 'mysql', reason: 'no such mysql connection' });
            metrics.authFailures.inc({ frontDoor: 'mysql', reason: 'unknown_connection' });
            throw new MysqlAdmissionError(`no mysql connection named "${connection}" (connect with -u <connection name>)`, 1044, '42000');
          }
          const access = await checkAccessOrGrant(who, conn, desk);
          if (!access.allowed) {
            await services.auditDenied(who, { connection, clientAddr, frontDoor: 'mysql', reason: access.reason });
            metrics.authFailures.inc({ frontDoor: 'mysql', reason: 'access_denied' });
            throw new MysqlAdmissionError(access.reason, 1044, '42000');
          }
          await services.auditOk(who, { clientAddr, frontDoor: 'mysql', connection });
          return { identity: who, connection: conn };
        },
        nativeKnown: (scramble, response) => services.nativeScrambleKnown(scramble, response),
        openSession,
        dial: (c) => dialer.dial({ host: c.host, port: c.port, agent: c.agent }),
        tls: gatewayTls,
        rsa: loadOrCreateRsaKeys(config.gateway.dataDir),
        maxMessageBytes: config.gateway.maxMessageBytes,
        limits,
        log,
        probe: mysqlConnections[0]?.type === 'mysql' ? mysqlConnections[0] : undefined,
      });
      const want = hostPort(config.gateway.listen.mysql);
      myAddr = await myDoor.listen(want.host, want.port);
      cleanups.push(() => myDoor!.close());
    }
    metrics.metrics.gauge('warden_sessions_active', 'Sessions open now', () => (pgDoor?.activeSessions ?? 0) + (myDoor?.activeSessions ?? 0));
    metrics.metrics.gauge('warden_handshakes_pending', 'Connections at a wire door not yet admitted', () => pgDoor?.pendingHandshakes ?? 0);

    const app = buildHttpApi({
      authenticate: (token, clientAddr) => services.authenticateDetailed(token, { clientAddr, frontDoor: 'http' }),
      hasRole: (who, role) => services.hasRole(who, role),
      roles: (who) => services.roles(who),
      connections: (who) => services.connectionsFor(who),
      listSessions: (q) => services.listSessions(q),
      getSession: (id) => services.getSession(id),
      revealOriginals: (id, seq, by) => services.revealOriginals(id, seq, by.name),
      createToken: (req, by) => services.createToken(req, by.name),
      verifyAudit: () => services.verifyAudit(),
      metrics: () => metrics.metrics.render(),
      metricsToken: config.gateway.metricsToken ?? null,
      health: () => services.health(),
    });
    mountAuthRoutes(app, services, log);
    // -- remote agents: tunnel endpoint is mounted here (src/tunnel) --
    mountAgentTunnel(app, { services, router: dialer, log });
    mountReviewRoutes(app, { desk, authenticate: (token, clientAddr) => services.authenticate(token, { clientAddr, frontDoor: 'http' }) });
    // MCP (src/mcp): its tools reach databases only through the Postgres door above, as the caller.
    // `warden exec` (POST /api/v1/exec) takes the same way.
    if (pgAddr) {
      const m = config.gateway.mcp;
      const postgres = { host: localHostFor(pgAddr.host), port: pgAddr.port };
      const mcp = mountMcp(app, {
        authenticate: (token, clientAddr, audience) => services.authenticateDetailed(token, { clientAddr, frontDoor: 'mcp' }, { audience }),
        connections: (who) => services.connectionsFor(who),
        desk, postgres,
        baseUrl: () => httpBase, issuer: config.auth.oidc?.issuer ?? null, scopes: config.auth.oidc?.scopes ?? null, resource: m.resource ?? null,
        allowedOrigins: m.allowedOrigins, caps: { maxRows: m.maxRows, maxBytes: m.maxBytes, timeoutMs: parseDuration(m.statementTimeout) }, idleMs: parseDuration(m.idleTimeout),
        maskedColumns: (tag) => mcpTags.maskedColumns(tag), forgetSession: (tag) => mcpTags.forget(tag), version: '0.1.0', log,
        hints: (who) => writeHints(policy, who, config.connections.filter((c) => checkAccess(who, c).allowed).map((c) => ({ name: c.name, onUnknown: c.onUnknown, rules: c.rules }))),
      });
      cleanups.push(() => mcp.close());
      const exec = mountExecRoute(app, { postgres, authenticate: (token, clientAddr) => services.authenticateDetailed(token, { clientAddr, frontDoor: 'http' }) });
      cleanups.push(() => exec.close());
    }

    const httpWant = hostPort(config.gateway.listen.http);
    await app.listen({ host: httpWant.host, port: httpWant.port });
    cleanups.push(() => app.close());
    const httpPort = (app.server.address() as { port: number }).port;
    httpBase = `http://${httpWant.host.includes(':') ? `[${httpWant.host}]` : httpWant.host}:${httpPort}`;
    // Gateway tokens minted for clients from now on name the MCP resource in their audience.
    if (pgAddr) services.identity.mcpResource = config.gateway.mcp.resource ?? `${httpBase}/mcp`;

    return {
      httpUrl: `http://${httpWant.host.includes(':') ? `[${httpWant.host}]` : httpWant.host}:${httpPort}`,
      postgres: pgAddr,
      mysql: myAddr,
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
