// What the gateway does besides moving bytes: authenticate tokens, create them, answer
// questions about sessions and the audit chain. Shared by the HTTP API and by the CLI
// in local mode, so both give the same answers.
import type { Logger } from 'pino';
import type { WardenConfig, ConnectionConfig } from '../config/schema.ts';
import type { Identity } from '../identity/types.ts';
import type { AuditEventInput, VerifyResult } from '../audit/types.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApiKey, findApiKeyByNativeScramble, listApiKeys, revokeApiKey, touchApiKey } from '../store/api-keys.ts';
import { listSessions, getSession } from '../store/sessions.ts';
import { searchCommands, type CommandSearch } from '../store/command-search.ts';
import { UsageLedger } from '../usage/ledger.ts';
import { claim, unclaim, BOOTSTRAP_ADMIN } from '../store/gateway-state.ts';
import { ensureDataDir, dataDirWarning } from '../store/data-dir.ts';
import { openAuditLog, type AuditLog } from '../audit/index.ts';
import { auditLogOptions } from '../audit/config.ts';
import { checkAccess } from '../session/access.ts';
import { unseal } from '../audit/sealed.ts';
import { originalsKey } from './keys.ts';
import type { GatewayMetrics } from './metrics.ts';
import { IdentityService, sourceAddress, type AuthOutcome } from '../identity/identity-service.ts';
import { RefusalDigest } from './refusals.ts';
import type { DeskDeps, ReviewDesk } from '../reviews/desk.ts';
import { isGatewayToken, GATEWAY_AUDIENCE } from '../identity/gateway-token.ts';
import { isAuthError } from '../identity/errors.ts';
import { hasRole, rolesOf, type Role } from '../identity/roles.ts';
import { AuditChecks } from './audit-check.ts';
import { addLocalUser, disableLocalUser, listLocalUsers, localUserCredentialId } from '../identity/local-users.ts';

export interface AuthContext {
  clientAddr: string;
  frontDoor: string;
  connection?: string;
}

/** The public face of a connection: never its credentials. */
export function describeConnection(c: ConnectionConfig): Record<string, unknown> {
  const base = { name: c.name, type: c.type, description: c.description ?? null, agent: c.agent, groups: c.access.groups };
  if (c.type === 'http' || c.type === 'git') return { ...base, url: c.url };
  if (c.type === 'ssh') return { ...base, host: c.host, port: c.port, user: c.user };
  // the program only: its fixed arguments may name credential files, its env is credentials
  if (c.type === 'exec') return { ...base, program: c.command[0] };
  return { ...base, host: c.host, port: c.port, database: c.database ?? null };
}

/**
 * `cli`: a short-lived command of the CLI's local mode; its audit events are written on this
 * thread (no writer thread to start for a handful of events). Otherwise the gateway's setup.
 */
export async function openServices(config: WardenConfig, opts: { writer: boolean; cli?: boolean; log?: Logger; metrics?: GatewayMetrics }) {
  // The CLI's local mode opens the data dir here: 0700 before anything is written into it.
  const dirWarning = dataDirWarning(config.gateway.dataDir, ensureDataDir(config.gateway.dataDir));
  if (dirWarning) opts.log?.warn(dirWarning);
  const store: Store = await openStore({ store: config.gateway.store, dataDir: config.gateway.dataDir });
  let audit: AuditLog | null = null;
  try {
    audit = await openAuditLog(store, {
      ...auditLogOptions(config.gateway.dataDir, config.gateway.audit),
      ...(opts.cli ? { writerThread: 'caller' as const } : {}),
      onShip(r) {
        opts.metrics?.auditHeadsShipped.inc({ sink: r.sink, outcome: r.ok ? 'ok' : 'failed' });
        if (!r.ok) opts.log?.warn({ sink: r.sink, head: r.head.n, err: r.error?.message }, 'a signed audit head could not be shipped (retrying)');
      },
      onError(e) {
        opts.metrics?.recordErrors.inc();
        opts.log?.error({ err: e.message }, 'audit chain');
      },
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const log = opts.log;
  const record = (e: AuditEventInput, durable = true) => audit!.append(e, { durable });

  // Every refusal is counted; it is logged and audited on its own (stable reason, never the
  // token) while it is news, and summed per source address per interval in a flood.
  const refusals = new RefusalDigest({
    intervalMs: config.auth.rateLimit.window,
    emit(summary) {
      log?.warn(summary, 'refusals summed');
      record({ type: 'auth.refused_summary', actor: null, data: { ...summary } }).catch((e: Error) => log?.error({ err: e.message }, 'audit append failed'));
    },
  });
  /** Count a refusal; true when it should be audited on its own. */
  const countRefusal = (reason: string, at: AuthContext): boolean => {
    opts.metrics?.authFailures.inc({ frontDoor: at.frontDoor, reason });
    return refusals.note({ source: sourceAddress(at), frontDoor: at.frontDoor, reason });
  };
  const identity = new IdentityService({
    store,
    dataDir: config.gateway.dataDir,
    auth: config.auth,
    async onRefused(o, at) {
      if (!countRefusal(o.reason, at)) return;
      log?.warn({ frontDoor: at.frontDoor, clientAddr: at.clientAddr, account: o.account, reason: o.reason, detail: o.message }, 'authentication refused');
      const data = { reason: o.message, code: o.reason, frontDoor: at.frontDoor, clientAddr: at.clientAddr, connection: at.connection ?? null };
      await record({ type: 'auth.denied', actor: o.account, data });
    },
  });
  try {
    await identity.revocations.poll();
  } catch (e) {
    await audit.close();
    await store.close();
    throw e;
  }
  identity.revocations.start(config.auth.revocationPoll, (e) => log?.error({ err: (e as Error).message }, 'revocation poll failed'));
  const roles = config.auth.roles;
  const publicIdentity = (i: Identity) => ({ kind: i.kind, subject: i.subject, name: i.name, groups: i.groups });

  const auditChecks = new AuditChecks(async () => {
    await audit!.flush();
    return audit!.verify();
  });
  const services = {
    store,
    audit,
    config,
    /** LLM token usage and budget holds (src/usage/ledger.ts) */
    usage: new UsageLedger(store.db),

    identity,
    countRefusal,
    /** Write the refusal summaries now (they are also written every rate-limit window). */
    flushRefusals: () => refusals.flush(),
    /** The per-command check open sessions run: revocation reaches them on their next command. */
    credentials: identity.revocations,

    /** Turn a bearer token into an identity, or audit why not (null). */
    async authenticate(token: string, ctx: AuthContext): Promise<Identity | null> {
      const o = await services.authenticateDetailed(token, ctx);
      return o.ok ? o.identity : null;
    },

    /** Like `authenticate`, with the reason of a refusal (rate_limited needs its own answer at each door). */
    async authenticateDetailed(token: string, ctx: AuthContext, opts: { audience?: string } = {}): Promise<AuthOutcome> {
      const o = await identity.authenticate(token, ctx, opts);
      if (o.ok && o.identity.kind === 'apikey') void touchApiKey(store, o.identity.subject).catch(() => {});
      return o;
    },

    /** A MySQL client's mysql_native_password scramble: the API key it proves, or why not. */
    async authenticateNativeDetailed(scramble: Buffer, response: Buffer, ctx: AuthContext): Promise<AuthOutcome> {
      const o = await identity.authenticateNativeScramble(scramble, response, ctx);
      if (o.ok) void touchApiKey(store, o.identity.subject).catch(() => {});
      return o;
    },

    /** Could this scramble be an API key's? (no limits, no audit: the MySQL door decides whether to ask for the token instead) */
    async nativeScrambleKnown(scramble: Buffer, response: Buffer): Promise<boolean> {
      return (await findApiKeyByNativeScramble(store, scramble, response)) !== null;
    },

    /** `auth.ok`: once per Postgres connection and per token issued, not per HTTP request (too chatty). */
    async auditOk(i: Identity, ctx: AuthContext, type = 'auth.ok', extra: Record<string, unknown> = {}): Promise<void> {
      await record({ type, actor: i.name, data: { identity: publicIdentity(i), credentialId: i.credentialId ?? null, frontDoor: ctx.frontDoor, clientAddr: ctx.clientAddr, connection: ctx.connection ?? null, ...extra } });
    },

    roles: (i: Identity): Role[] => rolesOf(i, roles),
    hasRole: (i: Identity, role: Role): boolean => hasRole(i, role, roles),

    /**
     * Exchange an API key or an IdP client-credentials token for a short-lived gateway
     * token. People use `warden login` (their IdP token) or a local login instead, and a
     * gateway token cannot renew itself.
     */
    async exchangeToken(credential: string, ctx: AuthContext, ttlSec?: number): Promise<AuthOutcome & { token?: string; expiresIn?: number }> {
      if (isGatewayToken(credential)) {
        const o = { ok: false as const, reason: 'not_exchangeable' as const, message: 'a gateway token cannot be exchanged for another', account: null };
        await identity.refuseOutcome(o, ctx);
        return o;
      }
      const o = await services.authenticateDetailed(credential, ctx);
      if (!o.ok) return o;
      if (o.identity.kind === 'user') {
        const r = { ok: false as const, reason: 'not_exchangeable' as const, message: `a user identity cannot be exchanged (use warden login)`, account: o.identity.name };
        await identity.refuseOutcome(r, ctx);
        return r;
      }
      let t;
      try {
        t = identity.mint(o.identity, ttlSec ? { ttlSec } : {});
      } catch (e) {
        if (!isAuthError(e)) throw e;
        const r = { ok: false as const, reason: e.reason, message: e.message, account: o.identity.name };
        await identity.refuseOutcome(r, ctx);
        return r;
      }
      await services.auditOk(o.identity, ctx, 'auth.token_issued', { jti: t.jti, expiresIn: t.expiresIn, source: o.identity.credentialId ?? null });
      return { ...o, token: t.token, expiresIn: t.expiresIn };
    },

    /** Local mode: name + password -> gateway token. */
    async loginLocal(name: string, password: string, ctx: AuthContext): Promise<AuthOutcome & { token?: string; expiresIn?: number }> {
      if (identity.oidcConfigured) {
        const r = { ok: false as const, reason: 'invalid_credential' as const, message: 'local logins are off: an identity provider is configured', account: name };
        await identity.refuseOutcome(r, ctx);
        return r;
      }
      const o = await identity.loginLocal(name, password, ctx);
      if (!o.ok) return o;
      const t = identity.mint(o.identity);
      await services.auditOk(o.identity, ctx, 'auth.login', { method: 'password', jti: t.jti, expiresIn: t.expiresIn });
      return { ...o, token: t.token, expiresIn: t.expiresIn };
    },

    /** A gateway token for an identity a login flow already verified (the browser login): for the API, not for /mcp. */
    async issueForLogin(i: Identity, ctx: AuthContext, method: string): Promise<{ token: string; expiresIn: number }> {
      const t = identity.mint(i, { audience: [GATEWAY_AUDIENCE] });
      await services.auditOk(i, ctx, 'auth.login', { method, jti: t.jti, expiresIn: t.expiresIn });
      return t;
    },

    /** Revoke one gateway (or IdP) token by its id; open sessions using it stop at their next command. */
    async revokeTokenId(jti: string, expiresAt: number, by: string): Promise<void> {
      await identity.revocations.revokeTokenId(jti, expiresAt);
      await record({ type: 'token.revoked', actor: by, data: { jti } });
    },

    async addUser(name: string, password: string, groups: string[], by: string) {
      const u = await addLocalUser(store, name, password, groups);
      await record({ type: 'user.added', actor: by, data: { name, groups } });
      return u;
    },
    listUsers: () => listLocalUsers(store),
    async disableUser(name: string, by: string): Promise<boolean> {
      const done = await disableLocalUser(store, name);
      if (done) {
        await identity.revocations.revokeTokenId(localUserCredentialId(name), Date.now() + 24 * 3_600_000);
        await record({ type: 'user.disabled', actor: by, data: { name } });
      }
      return done;
    },

    /** What a client needs to log in: never a secret. */
    authConfig(): Record<string, unknown> {
      const o = config.auth.oidc;
      if (!o) return { mode: 'local' };
      return { mode: 'oidc', issuer: o.issuer, clientId: o.clientId, audience: o.audience, groupsClaim: o.groupsClaim, scopes: o.scopes ?? null, authParams: o.authParams ?? null };
    },

    async auditDenied(who: Identity, ctx: AuthContext & { reason: string }): Promise<void> {
      log?.warn({ identity: who.name, connection: ctx.connection, reason: ctx.reason }, 'access refused');
      await record({ type: 'access.denied', actor: who.name, data: { identity: { kind: who.kind, subject: who.subject, groups: who.groups }, connection: ctx.connection ?? null, frontDoor: ctx.frontDoor, clientAddr: ctx.clientAddr, reason: ctx.reason } });
    },

    async createToken(req: { name: string; groups: string[]; ttlMs: number | null }, by: string) {
      const t = await createApiKey(store, { name: req.name, groups: req.groups, ttlMs: req.ttlMs ?? undefined });
      await record({ type: 'token.created', actor: by, data: { id: t.id, name: req.name, groups: req.groups, expiresAt: t.expiresAt } });
      return t;
    },

    async revokeToken(idOrName: string, by: string) {
      const ids = await store.db.selectFrom('api_keys').select('id').where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).where('revoked_at', 'is', null).execute();
      const n = await revokeApiKey(store, idOrName);
      // Open sessions (and gateway tokens derived from these keys) learn it now, not at the next poll.
      for (const r of ids) identity.revocations.add(r.id);
      if (n) await record({ type: 'token.revoked', actor: by, data: { token: idOrName } });
      return n;
    },

    listTokens: () => listApiKeys(store),

    /**
     * On the very first start of a store: an admin token, printed once. Once ever: a marker
     * in the store says it was minted, so revoking every key does not make the next start
     * (or another replica) hand out a fresh admin token to whoever reads its output.
     */
    async bootstrapAdmin(): Promise<string | null> {
      // A store from before the marker that already has keys had its bootstrap then.
      const earlier = (await listApiKeys(store, { includeRevoked: true })).length > 0;
      if (!(await claim(store, BOOTSTRAP_ADMIN, earlier ? 'before-marker' : 'minted'))) return null;
      if (earlier) return null;
      try {
        const t = await createApiKey(store, { name: 'admin', groups: ['admin'] });
        await record({ type: 'token.created', actor: 'system', data: { id: t.id, name: 'admin', groups: ['admin'], bootstrap: true } });
        return t.token;
      } catch (e) {
        await unclaim(store, BOOTSTRAP_ADMIN).catch(() => {});
        throw e;
      }
    },

    /**
     * The review desk over this store (held commands, votes, access windows): the gateway's,
     * with where to approve and masked webhooks; the CLI's local mode, with the defaults.
     */
    async reviewDesk(extra: Pick<DeskDeps, 'maskCommand' | 'log'> & { baseUrl?: () => string } = {}): Promise<ReviewDesk> {
      const { ReviewDesk } = await import('../reviews/desk.ts');
      const byName = new Map(config.connections.map((c) => [c.name, c]));
      return new ReviewDesk({
        store, audit: audit!, config: config.reviews, connection: (n) => byName.get(n),
        baseUrl: extra.baseUrl ?? (() => `http://${config.gateway.listen.http}`), hasRole: (i, r) => hasRole(i, r, roles),
        maskCommand: extra.maskCommand, log: extra.log ?? log,
      });
    },

    connectionsFor(who: Identity | null): Record<string, unknown>[] {
      return config.connections.filter((c) => who === null || hasRole(who, 'admin', roles) || checkAccess(who, c).allowed).map(describeConnection);
    },

    // Reads of the record first wait for what strict recording journaled to be in the
    // store (AuditLog.indexed): a command is seen as soon as it was let through.
    listSessions: async (q: { limit: number; connection?: string }) => (await audit?.indexed(), listSessions(store, q)),
    /** sessions that ran a command matching a `commands:` glob, with each hit (store/command-search.ts) */
    searchCommands: async (q: CommandSearch) => (await audit?.indexed(), searchCommands(store, q)),
    async getSession(id: string) {
      await audit?.indexed();
      const found = await getSession(store, id);
      return found && { ...found.session, events: found.events };
    },

    /** Open the sealed originals of one result event; the reveal itself is audited first. */
    async revealOriginals(sessionId: string, seq: number, by: string): Promise<unknown> {
      await audit?.indexed();
      const found = await getSession(store, sessionId);
      const ev = found?.events.find((e) => e.seq === seq);
      if (!ev || ev.type !== 'result') throw new Error(`no result event ${seq} in session ${sessionId}`);
      if (typeof ev.data.originals !== 'string') throw new Error(`result event ${seq} kept no originals (masking.keepOriginals is off or nothing was masked)`);
      await record({ type: 'originals.revealed', sessionId, actor: by, data: { seq, commandId: ev.data.commandId } });
      return unseal(originalsKey(config.gateway.dataDir), ev.data.originals, `${sessionId}/${String(ev.data.commandId)}`);
    },

    /** The chain as this gateway holds it to: the pinned key, the sinks, the last head it signed itself. */
    async verifyAudit(): Promise<VerifyResult> {
      return (await auditChecks.run()).result;
    },

    /** the last verify's result, kept (the console shows it; see audit-check.ts) */
    auditChecks,

    async health(): Promise<{ ok: boolean; detail: Record<string, unknown> }> {
      try {
        await listSessions(store, { limit: 1 });
        return { ok: true, detail: { store: store.kind } };
      } catch (e) {
        return { ok: false, detail: { store: store.kind, error: (e as Error).message } };
      }
    },

    async close(): Promise<void> {
      identity.revocations.stop();
      refusals.close();
      await audit!.close();
      await store.close();
    },
  };
  return services;
}

export type Services = Awaited<ReturnType<typeof openServices>>;
