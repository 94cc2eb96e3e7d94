// What the gateway does besides moving bytes: authenticate tokens, create them, answer
// questions about sessions and the audit chain. Shared by the HTTP API and by the CLI
// in local mode, so both give the same answers.
import type { Logger } from 'pino';
import type { WardenConfig, ConnectionConfig } from '../config/schema.ts';
import type { Identity } from '../identity/types.ts';
import type { AuditEventInput, VerifyResult } from '../audit/types.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApiKey, findApiKey, listApiKeys, revokeApiKey, touchApiKey } from '../store/api-keys.ts';
import { listSessions, getSession } from '../store/sessions.ts';
import { openAuditLog, verifyAudit, type AuditLog } from '../audit/index.ts';
import { checkAccess } from '../session/access.ts';
import type { GatewayMetrics } from './metrics.ts';

export interface AuthContext {
  clientAddr: string;
  frontDoor: string;
  connection?: string;
}

/** The public face of a connection: never its credentials. */
export function describeConnection(c: ConnectionConfig): Record<string, unknown> {
  return { name: c.name, type: c.type, description: c.description ?? null, agent: c.agent, host: c.host, port: c.port, database: c.database, groups: c.access.groups };
}

export async function openServices(config: WardenConfig, opts: { writer: boolean; log?: Logger; metrics?: GatewayMetrics }) {
  const store: Store = await openStore({ store: config.gateway.store, dataDir: config.gateway.dataDir });
  let audit: AuditLog | null = null;
  try {
    audit = await openAuditLog(store, { dataDir: config.gateway.dataDir, checkpointEvery: config.gateway.recording.checkpointEvery });
  } catch (e) {
    await store.close();
    throw e;
  }
  const log = opts.log;
  const record = (e: AuditEventInput) => audit!.append(e, { durable: true });

  const services = {
    store,
    audit,
    config,

    /** Turn a bearer token into an identity, or audit why not. */
    async authenticate(token: string, ctx: AuthContext): Promise<Identity | null> {
      const key = token ? await findApiKey(store, token) : null;
      let reason: string | null = null;
      if (!key) reason = 'unknown token';
      else if (key.revokedAt) reason = 'token revoked';
      else if (key.expiresAt !== null && key.expiresAt <= Date.now()) reason = 'token expired';
      if (reason || !key) {
        opts.metrics?.authFailures.inc({ frontDoor: ctx.frontDoor, reason: reason!.replace(/ /g, '_') });
        log?.warn({ frontDoor: ctx.frontDoor, clientAddr: ctx.clientAddr, reason }, 'authentication refused');
        await record({ type: 'auth.denied', actor: key?.name ?? null, data: { reason, frontDoor: ctx.frontDoor, clientAddr: ctx.clientAddr, connection: ctx.connection ?? null, tokenId: key?.id ?? null } });
        return null;
      }
      void touchApiKey(store, key.id).catch(() => {});
      return { kind: 'apikey', subject: key.id, name: key.name, groups: key.groups, credentialId: key.id, expiresAt: key.expiresAt ?? undefined };
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
      const n = await revokeApiKey(store, idOrName);
      if (n) await record({ type: 'token.revoked', actor: by, data: { token: idOrName } });
      return n;
    },

    listTokens: () => listApiKeys(store),

    /** On the very first start: an admin token, printed once. */
    async bootstrapAdmin(): Promise<string | null> {
      if ((await listApiKeys(store)).length > 0) return null;
      const t = await createApiKey(store, { name: 'admin', groups: ['admin'] });
      await record({ type: 'token.created', actor: 'system', data: { id: t.id, name: 'admin', groups: ['admin'], bootstrap: true } });
      return t.token;
    },

    connectionsFor(who: Identity | null): Record<string, unknown>[] {
      return config.connections.filter((c) => who === null || who.groups.includes('admin') || checkAccess(who, c).allowed).map(describeConnection);
    },

    listSessions: (q: { limit: number; connection?: string }) => listSessions(store, q),
    async getSession(id: string) {
      const found = await getSession(store, id);
      return found && { ...found.session, events: found.events };
    },

    async verifyAudit(): Promise<VerifyResult> {
      await audit!.flush();
      return verifyAudit(store, config.gateway.dataDir);
    },

    async health(): Promise<{ ok: boolean; detail: Record<string, unknown> }> {
      try {
        await listSessions(store, { limit: 1 });
        return { ok: true, detail: { store: store.kind } };
      } catch (e) {
        return { ok: false, detail: { store: store.kind, error: (e as Error).message } };
      }
    },

    async close(): Promise<void> {
      await audit!.close();
      await store.close();
    },
  };
  return services;
}

export type Services = Awaited<ReturnType<typeof openServices>>;
