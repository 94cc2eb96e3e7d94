// What an SSH public key registered with `warden keys add` stands for at login.
//
// The binding, chosen so a key never outlives what vouched for it:
// - registered with an API key (or a gateway token exchanged for one): bound to that API key.
//   At each login the key's row gives the name and groups (current, not a snapshot), and the
//   SSH key dies with the API key's revocation or expiry. No expiry of its own unless --ttl.
// - registered by a person (an OIDC login, a local user): keeps the identity and groups of the
//   login that registered it, and expires (default 30 days, at most 90; `--ttl`), since the
//   gateway cannot ask the IdP for current groups without a token. It dies when the token that
//   registered it, or what that token came from (a local user's logins: disabling the user), is
//   revoked.
// Either way, revoking the registering token kills the key: a stolen token cannot leave a key
// behind that outlives its revocation. Removing the key (`warden keys remove`) ends it too.
import type { Store } from '../store/open.ts';
import { findSshKey, type SshKeyRecord } from '../store/ssh-keys.ts';
import { parsePublicKeyLine, sshFingerprint } from '../config/ssh-connection.ts';
import type { Identity } from './types.ts';
import { AuthError } from './errors.ts';

export const DEFAULT_USER_KEY_TTL_MS = 30 * 86_400_000;
export const MAX_USER_KEY_TTL_MS = 90 * 86_400_000;

/** The credential id of logins with this key: revoking it (removal) reaches open sessions. */
export const sshKeyCredentialId = (fingerprint: string) => `sshkey:${fingerprint}`;

export interface PublicKeyText {
  fingerprint: string;
  /** `<type> <base64>` */
  publicKey: string;
  comment: string;
}

/** An `authorized_keys` / `.pub` line: the key, or why not (a private key is refused, never stored). */
export function readPublicKey(text: string): PublicKeyText | string {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  if (!line) return 'no public key given';
  if (/PRIVATE KEY/.test(text)) return 'that is a private key: give the .pub file';
  const k = parsePublicKeyLine(line);
  if (typeof k === 'string') return k;
  const comment = line.split(/\s+/).slice(2).join(' ').slice(0, 200);
  return { fingerprint: sshFingerprint(k.blob), publicKey: `${k.type} ${k.blob.toString('base64')}`, comment };
}

/** The row to store for `who` registering `key`; a string says why not. */
export function bindKey(who: Identity, key: PublicKeyText, ttlMs: number | null, now = Date.now()): SshKeyRecord | string {
  const byApiKey = who.kind === 'apikey';
  if (ttlMs !== null && ttlMs <= 0) return 'ttl must be positive';
  if (!byApiKey && ttlMs !== null && ttlMs > MAX_USER_KEY_TTL_MS) return 'a key registered by a person lives at most 90d';
  const ttl = ttlMs ?? (byApiKey ? null : DEFAULT_USER_KEY_TTL_MS);
  const credentialIds = [...new Set([who.credentialId, who.sourceCredentialId].filter((x): x is string => typeof x === 'string'))];
  return {
    ...key,
    owner: { kind: who.kind, subject: who.subject, name: who.name },
    groups: byApiKey ? [] : who.groups,
    apiKeyId: byApiKey ? who.subject : null,
    credentialIds,
    createdAt: now,
    expiresAt: ttl === null ? null : now + ttl,
    revokedAt: null,
  };
}

export interface SshKeyResolveDeps {
  store: Store;
  /** in-memory revocations (API keys, tokens) */
  isRevokedId(id: string): boolean;
}

/** Fingerprint (its signature already verified by the door) -> the identity it stands for, or an AuthError. */
export async function resolveSshKey(deps: SshKeyResolveDeps, fingerprint: string, now = Date.now()): Promise<Identity> {
  const k = await findSshKey(deps.store, fingerprint);
  if (!k) throw new AuthError('invalid_credential', `ssh key ${fingerprint} is not registered`);
  const named = (reason: 'revoked' | 'expired', msg: string) => Object.assign(new AuthError(reason, msg), { account: k.owner.name });
  if (k.revokedAt !== null) throw named('revoked', `ssh key ${fingerprint} was removed`);
  if (k.expiresAt !== null && k.expiresAt <= now) throw named('expired', `ssh key ${fingerprint} expired`);
  // The store is the truth here: the in-memory list forgets a token once it would have expired.
  if (k.credentialIds.some((id) => deps.isRevokedId(id))) throw named('revoked', `the token that registered ssh key ${fingerprint} was revoked`);
  if (k.credentialIds.length) {
    const hit = await deps.store.db.selectFrom('revoked_tokens').select('jti').where('jti', 'in', k.credentialIds).executeTakeFirst();
    if (hit) throw named('revoked', `the token that registered ssh key ${fingerprint} was revoked`);
  }
  const base = { kind: k.owner.kind as Identity['kind'], subject: k.owner.subject, credentialId: sshKeyCredentialId(fingerprint) };
  if (k.apiKeyId === null) {
    const source = k.credentialIds.at(-1);
    return { ...base, name: k.owner.name, groups: k.groups, ...(source ? { sourceCredentialId: source } : {}), ...(k.expiresAt !== null ? { expiresAt: k.expiresAt } : {}) };
  }
  const api = await deps.store.db.selectFrom('api_keys').select(['name', 'groups', 'expires_at', 'revoked_at']).where('id', '=', k.apiKeyId).executeTakeFirst();
  if (!api || api.revoked_at !== null || deps.isRevokedId(k.apiKeyId)) throw named('revoked', `the API key behind ssh key ${fingerprint} was revoked`);
  const apiExp = api.expires_at === null ? null : Number(api.expires_at);
  if (apiExp !== null && apiExp <= now) throw named('expired', `the API key behind ssh key ${fingerprint} expired`);
  const exp = [k.expiresAt, apiExp].filter((x): x is number => x !== null);
  return { ...base, name: api.name, groups: JSON.parse(api.groups) as string[], sourceCredentialId: k.apiKeyId, ...(exp.length ? { expiresAt: Math.min(...exp) } : {}) };
}
