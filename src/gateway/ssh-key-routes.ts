// /api/v1/ssh-keys: SSH public keys registered to the caller (`warden keys add|list|remove`).
// Everyone manages their own; an admin may list (`?all=true`) and remove anyone's. What a
// key stands for at login is decided in src/identity/ssh-keys.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity } from '../identity/types.ts';
import { bindKey, readPublicKey, sshKeyCredentialId } from '../identity/ssh-keys.ts';
import { insertSshKey, listSshKeys, findSshKey, removeSshKey, type SshKeyRecord } from '../store/ssh-keys.ts';
import { parseDuration } from '../config/duration.ts';
import type { Services } from './services.ts';
import { HttpError, requestToken } from './http-api.ts';

/** The public face of a registration: never the ids of the tokens behind it. */
function describe(k: SshKeyRecord): Record<string, unknown> {
  return {
    fingerprint: k.fingerprint, publicKey: k.publicKey, comment: k.comment, owner: k.owner,
    boundTo: k.apiKeyId ? 'apikey' : 'login', groups: k.apiKeyId ? null : k.groups,
    createdAt: new Date(k.createdAt).toISOString(), expiresAt: k.expiresAt === null ? null : new Date(k.expiresAt).toISOString(),
  };
}

/** `SHA256:...` as typed, or without its prefix. */
const normalize = (fp: string) => (fp.startsWith('SHA256:') ? fp : `SHA256:${fp}`);

export function mountSshKeyRoutes(app: FastifyInstance, services: Services): void {
  const record = (type: string, actor: string, data: Record<string, unknown>) => services.audit.append({ type, actor, data }, { durable: true });

  async function caller(req: FastifyRequest): Promise<Identity> {
    const token = requestToken(req);
    if (!token) throw new HttpError(401, 'missing bearer token');
    const o = await services.authenticateDetailed(token, { clientAddr: req.ip, frontDoor: 'http' });
    if (!o.ok) throw o.reason === 'rate_limited' ? new HttpError(429, 'too many failed attempts; try again later') : new HttpError(401, 'invalid or expired token');
    return o.identity;
  }

  app.post('/api/v1/ssh-keys', async (req, reply) => {
    const who = await caller(req);
    const b = (req.body ?? {}) as { publicKey?: unknown; ttl?: unknown };
    if (typeof b.publicKey !== 'string') throw new HttpError(400, 'publicKey is required: the line of your .pub file');
    const key = readPublicKey(b.publicKey);
    if (typeof key === 'string') throw new HttpError(400, `publicKey: ${key}`);
    let ttlMs: number | null = null;
    if (b.ttl !== undefined && b.ttl !== null) {
      try {
        ttlMs = parseDuration(String(b.ttl));
      } catch (e) {
        throw new HttpError(400, `ttl: ${(e as Error).message}`);
      }
    }
    const row = bindKey(who, key, ttlMs);
    if (typeof row === 'string') throw new HttpError(400, row);
    if (!(await insertSshKey(services.store, row))) throw new HttpError(409, `ssh key ${key.fingerprint} is already registered`);
    await record('ssh_key.added', who.name, { fingerprint: row.fingerprint, owner: row.owner, boundTo: row.apiKeyId ? 'apikey' : 'login', expiresAt: row.expiresAt });
    return reply.code(201).send(describe(row));
  });

  app.get('/api/v1/ssh-keys', async (req) => {
    const who = await caller(req);
    const all = (req.query as { all?: string }).all === 'true';
    if (all && !services.hasRole(who, 'admin')) throw new HttpError(403, 'admin role required to list everyone\'s keys');
    return (await listSshKeys(services.store, all ? null : who)).map(describe);
  });

  app.delete('/api/v1/ssh-keys/:fingerprint', async (req) => {
    const who = await caller(req);
    const fp = normalize((req.params as { fingerprint: string }).fingerprint);
    const admin = services.hasRole(who, 'admin');
    const found = await findSshKey(services.store, fp);
    if (!found || !(await removeSshKey(services.store, fp, admin ? null : who))) throw new HttpError(404, `no registered ssh key ${fp} of yours`);
    // Open sessions logged in with it end at their next command.
    await services.identity.revocations.revokeTokenId(sshKeyCredentialId(fp), found.expiresAt ?? Date.now() + 365 * 86_400_000);
    await record('ssh_key.removed', who.name, { fingerprint: fp, owner: found.owner });
    return { removed: fp };
  });
}
