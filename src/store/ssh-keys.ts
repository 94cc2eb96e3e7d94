// SSH public keys registered to an identity (`warden keys add`): rows in, rows out. What a
// key stands for at login (groups, revocation, expiry) is decided in src/identity/ssh-keys.ts.
import type { Selectable } from 'kysely';
import type { Store } from './open.ts';
import type { SshKeysTable } from './schema.ts';

export interface SshKeyRecord {
  fingerprint: string;
  publicKey: string;
  comment: string;
  owner: { kind: string; subject: string; name: string };
  groups: string[];
  apiKeyId: string | null;
  credentialIds: string[];
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

const toRecord = (r: Selectable<SshKeysTable>): SshKeyRecord => ({
  fingerprint: r.fingerprint,
  publicKey: r.public_key,
  comment: r.comment,
  owner: { kind: r.owner_kind, subject: r.owner_subject, name: r.owner_name },
  groups: JSON.parse(r.groups) as string[],
  apiKeyId: r.api_key_id,
  credentialIds: JSON.parse(r.credential_ids) as string[],
  createdAt: Number(r.created_at),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
});

export async function findSshKey(store: Store, fingerprint: string): Promise<SshKeyRecord | null> {
  const r = await store.db.selectFrom('ssh_keys').selectAll().where('fingerprint', '=', fingerprint).executeTakeFirst();
  return r ? toRecord(r) : null;
}

/**
 * Register a key. A fingerprint names one key for one identity: a live registration (not
 * removed, not expired) is never taken over, whoever asks; a dead one is replaced.
 * Returns false when a live one exists.
 */
export async function insertSshKey(store: Store, k: SshKeyRecord, now = Date.now()): Promise<boolean> {
  return store.db.transaction().execute(async (tx) => {
    const old = await tx.selectFrom('ssh_keys').select(['revoked_at', 'expires_at']).where('fingerprint', '=', k.fingerprint).executeTakeFirst();
    if (old && old.revoked_at === null && (old.expires_at === null || Number(old.expires_at) > now)) return false;
    if (old) await tx.deleteFrom('ssh_keys').where('fingerprint', '=', k.fingerprint).execute();
    await tx
      .insertInto('ssh_keys')
      .values({
        fingerprint: k.fingerprint, public_key: k.publicKey, comment: k.comment,
        owner_kind: k.owner.kind, owner_subject: k.owner.subject, owner_name: k.owner.name,
        groups: JSON.stringify(k.groups), api_key_id: k.apiKeyId, credential_ids: JSON.stringify(k.credentialIds),
        created_at: k.createdAt, expires_at: k.expiresAt, revoked_at: null,
      })
      .execute();
    return true;
  });
}

/** Keys not removed: one owner's, or everyone's (`owner` null, for admins). Expired ones are listed with their expiry. */
export async function listSshKeys(store: Store, owner: { kind: string; subject: string } | null): Promise<SshKeyRecord[]> {
  let q = store.db.selectFrom('ssh_keys').selectAll().where('revoked_at', 'is', null);
  if (owner) q = q.where('owner_kind', '=', owner.kind).where('owner_subject', '=', owner.subject);
  return (await q.orderBy('created_at').execute()).map(toRecord);
}

/** Mark a key removed (one owner's, or any with `owner` null); true when a live row changed. */
export async function removeSshKey(store: Store, fingerprint: string, owner: { kind: string; subject: string } | null, now = Date.now()): Promise<boolean> {
  let q = store.db.updateTable('ssh_keys').set({ revoked_at: now }).where('fingerprint', '=', fingerprint).where('revoked_at', 'is', null);
  if (owner) q = q.where('owner_kind', '=', owner.kind).where('owner_subject', '=', owner.subject);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
