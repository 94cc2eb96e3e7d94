// API keys: the access tokens of `warden token create`. Only a hash is stored; the token
// itself is shown once. Tokens carry 256 random bits, so a plain sha256 is as strong as
// any password KDF here and costs microseconds on every connection.
import { createHash, hash, randomBytes } from 'node:crypto';
import type { Store } from './open.ts';

export interface ApiKeyRecord {
  id: string;
  name: string;
  groups: string[];
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export const TOKEN_PREFIX = 'wdn_';

export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

const sha1 = (...parts: Buffer[]) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * What MySQL's mysql_native_password checks a scramble against: SHA1(SHA1(token)). The
 * token's 256 random bits make it as hard to reverse as the sha256 hash; what it gives
 * away is that someone who also sees a handshake's scramble and answer learns SHA1(token),
 * enough to answer later scrambles (the plugin's known weakness): use TLS or
 * caching_sha2_password where a client can.
 */
export function nativeVerifierOf(token: string): string {
  return sha1(sha1(Buffer.from(token, 'utf8'))).toString('hex');
}

/** Does `response` answer the 20-byte `scramble` for the token behind `verifierHex`? */
export function matchesNativeScramble(scramble: Buffer, response: Buffer, verifierHex: string): boolean {
  if (response.length !== 20 || scramble.length < 20) return false;
  const stage2 = Buffer.from(verifierHex, 'hex');
  const mask = sha1(scramble.subarray(0, 20), stage2);
  const stage1 = Buffer.allocUnsafe(20);
  for (let i = 0; i < 20; i++) stage1[i] = response[i]! ^ mask[i]!;
  return sha1(stage1).equals(stage2);
}

export async function createApiKey(
  store: Store,
  opts: { name: string; groups: string[]; ttlMs?: number },
): Promise<{ id: string; token: string; expiresAt: number | null }> {
  if (!opts.name) throw new Error('an API key needs a name');
  if (opts.ttlMs !== undefined && !(opts.ttlMs > 0)) throw new Error(`ttl must be positive, got ${opts.ttlMs} ms`);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const id = randomBytes(6).toString('hex');
  const now = Date.now();
  const expiresAt = opts.ttlMs === undefined ? null : now + opts.ttlMs;
  await store.db
    .insertInto('api_keys')
    .values({ id, name: opts.name, token_hash: hashToken(token), native_verifier: nativeVerifierOf(token), groups: JSON.stringify(opts.groups), created_at: now, expires_at: expiresAt })
    .execute();
  return { id, token, expiresAt };
}

/** The key a token belongs to, revoked or expired ones included so callers can say why. */
export async function findApiKey(store: Store, token: string): Promise<ApiKeyRecord | null> {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  const row = await store.db.selectFrom('api_keys').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirst();
  return row ? toRecord(row) : null;
}

/**
 * The key whose token answers a mysql_native_password scramble (the client says which
 * connection, not which key: every key with a verifier is tried). Revoked and expired keys
 * are found too, so callers can say why they are refused.
 */
export async function findApiKeyByNativeScramble(store: Store, scramble: Buffer, response: Buffer): Promise<ApiKeyRecord | null> {
  const rows = await store.db.selectFrom('api_keys').selectAll().where('native_verifier', 'is not', null).execute();
  const row = rows.find((r) => matchesNativeScramble(scramble, response, r.native_verifier!));
  return row ? toRecord(row) : null;
}

export async function listApiKeys(store: Store, opts: { includeRevoked?: boolean } = {}): Promise<ApiKeyRecord[]> {
  let q = store.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id');
  if (!opts.includeRevoked) q = q.where('revoked_at', 'is', null);
  return (await q.execute()).map(toRecord);
}

/**
 * Revoke the key with this id, or every unrevoked key with this name. Returns how many
 * keys were revoked (0: nothing matched or all were already revoked).
 */
export async function revokeApiKey(store: Store, idOrName: string): Promise<number> {
  const res = await store.db
    .updateTable('api_keys')
    .set({ revoked_at: Date.now() })
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

// Last use is advisory (who still uses this key?), so it is written at most once a
// minute per key and process: a connection storm must not become a write storm.
const TOUCH_EVERY_MS = 60_000;
const touched = new WeakMap<Store, Map<string, number>>();

export async function touchApiKey(store: Store, id: string, now = Date.now()): Promise<void> {
  let seen = touched.get(store);
  if (!seen) touched.set(store, (seen = new Map()));
  const last = seen.get(id);
  if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
  seen.set(id, now);
  await store.db
    .updateTable('api_keys')
    .set({ last_used_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', now - TOUCH_EVERY_MS)]))
    .execute();
}

function toRecord(row: {
  id: string;
  name: string;
  groups: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    groups: JSON.parse(row.groups) as string[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}
