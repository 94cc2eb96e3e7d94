// The gateway end of remote agents, mounted on the gateway's fastify app:
//   GET /api/v1/agents/connect   WebSocket upgrade; Bearer <agent token>
//   GET /api/v1/agents           status of every agent (admin)
//   DELETE /api/v1/agents/:name  revoke the agent's tokens and drop its tunnels (admin)
// An agent token is an API key named after the agent with the group "warden-agent", so
// it is stored hashed, revocable and audited like every other token.
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Services } from '../gateway/services.ts';
import type { Identity } from '../identity/types.ts';
import { listApiKeys } from '../store/api-keys.ts';
import type { AgentRouter } from './dialer.ts';
import { AgentRegistry, AGENT_GROUP, type AgentStatus } from './agents.ts';
import { Tunnel, heartbeatMs, MAX_MISSED, MAX_MESSAGE_BYTES } from './tunnel.ts';
import { bearerToken } from '../identity/bearer.ts';

export { AGENT_GROUP };

export interface TunnelDeps {
  services: Services;
  router: AgentRouter;
  log: Logger;
}

const bearer = (req: FastifyRequest) => bearerToken(req.headers.authorization);

const header = (req: FastifyRequest, name: string) => String(req.headers[name] ?? '').slice(0, 200) || 'unknown';

/** Mount the agent tunnel on `app` (before it listens). Returns the registry of agents. */
export function mountAgentTunnel(app: FastifyInstance, deps: TunnelDeps): AgentRegistry {
  const { services, router, log } = deps;
  const registry = new AgentRegistry(router);
  const audit = (type: string, actor: string | null, data: Record<string, unknown>) =>
    services.audit.append({ type, actor, data }, { durable: true }).catch((e: Error) => log.error({ err: e.message }, 'audit append failed'));

  // Is this credential still good? Checked on every heartbeat, so a revoked token stops
  // working within one heartbeat period even when revoked by another process.
  async function stillValid(credentialId: string): Promise<string | null> {
    const row = await services.store.db.selectFrom('api_keys').select(['revoked_at', 'expires_at']).where('id', '=', credentialId).executeTakeFirst();
    if (!row || row.revoked_at !== null) return 'token revoked';
    if (row.expires_at !== null && row.expires_at <= Date.now()) return 'token expired';
    return null;
  }

  async function admin(req: FastifyRequest, reply: FastifyReply): Promise<Identity | null> {
    const token = bearer(req);
    const who = token ? await services.authenticate(token, { clientAddr: req.ip, frontDoor: 'http' }) : null;
    if (!who) {
      void reply.status(401).send({ error: token ? 'invalid or expired token' : 'missing bearer token' });
      return null;
    }
    if (!services.hasRole(who, 'admin')) {
      void reply.status(403).send({ error: 'admin role required' });
      return null;
    }
    return who;
  }

  async function listAgents(): Promise<AgentStatus[]> {
    const keys = (await listApiKeys(services.store)).filter((k) => k.groups.includes(AGENT_GROUP));
    const names = new Set([...keys.map((k) => k.name), ...registry.names()]);
    return [...names].sort().map((name) => {
      const s = registry.status(name);
      if (s.lastSeen === null) {
        const used = Math.max(0, ...keys.filter((k) => k.name === name).map((k) => k.lastUsedAt ?? 0));
        if (used) s.lastSeen = new Date(used).toISOString();
      }
      return s;
    });
  }

  app.register(websocket, { options: { maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false } });
  app.register(async (scope) => {
    scope.get('/api/v1/agents', async (req, reply) => {
      if (!(await admin(req, reply))) return reply;
      return listAgents();
    });

    scope.delete('/api/v1/agents/:name', async (req, reply) => {
      const who = await admin(req, reply);
      if (!who) return reply;
      const name = (req.params as { name: string }).name;
      const keys = (await listApiKeys(services.store)).filter((k) => k.name === name && k.groups.includes(AGENT_GROUP));
      for (const k of keys) await services.revokeToken(k.id, who.name);
      const dropped = registry.disconnect(name, 'token revoked');
      if (keys.length === 0 && dropped === 0) return reply.status(404).send({ error: `no agent named "${name}"` });
      return { name, revoked: keys.length, disconnected: dropped };
    });

    scope.get('/api/v1/agents/connect', {
      websocket: true,
      // Refuse before the upgrade, so a bad token gets a plain HTTP 401/403.
      preValidation: async (req, reply) => {
        const token = bearer(req);
        const clientAddr = req.ip;
        const who = await services.authenticate(token ?? '', { clientAddr, frontDoor: 'agent' });
        if (!who) return reply.status(401).send({ error: token ? 'invalid, expired or revoked agent token' : 'missing bearer token' });
        let reason: string | null = null;
        if (!who.groups.includes(AGENT_GROUP)) reason = `not an agent token (an agent token has the group "${AGENT_GROUP}"; create one with: warden agents add <name>)`;
        else if (who.name === 'embedded') reason = 'the agent name "embedded" is reserved for the in-process agent';
        if (reason) {
          log.warn({ identity: who.name, clientAddr, reason }, 'agent refused');
          await audit('auth.denied', who.name, { reason, frontDoor: 'agent', clientAddr, tokenId: who.credentialId ?? null });
          return reply.status(403).send({ error: reason });
        }
        (req as FastifyRequest & { agentIdentity?: Identity }).agentIdentity = who;
      },
    }, (ws, req) => {
      const who = (req as FastifyRequest & { agentIdentity?: Identity }).agentIdentity!;
      const name = who.name;
      const meta = { version: header(req, 'x-warden-agent-version'), hostname: header(req, 'x-warden-agent-hostname'), clientAddr: req.ip, exec: Number(req.headers['x-warden-agent-exec'] ?? 0) || 0 };
      let checking = false;
      const tunnel: Tunnel = new Tunnel(ws, {
        peer: `agent "${name}"`,
        heartbeatMs: heartbeatMs(),
        maxMissed: MAX_MISSED,
        onHeartbeat: () => {
          if (checking || !who.credentialId) return;
          checking = true;
          stillValid(who.credentialId)
            .then((why) => {
              if (!why) return;
              log.warn({ agent: name, reason: why }, 'dropping agent');
              tunnel.close(why, 4001);
            })
            .catch((e: Error) => log.error({ agent: name, err: e.message }, 'agent token check failed'))
            .finally(() => (checking = false));
        },
      });
      registry.attach(name, tunnel, meta);
      tunnel.hello({ agent: name, heartbeatMs: heartbeatMs() });
      log.info({ agent: name, ...meta }, 'agent connected');
      void audit('agent.connected', name, { agent: name, ...meta });
      tunnel.on('close', (reason) => {
        log.info({ agent: name, reason }, 'agent disconnected');
        void audit('agent.disconnected', name, { agent: name, reason, clientAddr: meta.clientAddr });
      });
    });
  });

  app.addHook('preClose', async () => registry.closeAll('gateway shutting down'));
  return registry;
}
