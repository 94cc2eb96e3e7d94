// Local users: people who log in with a name and password when no IdP is configured (the
// embedded default). Passwords are stored as scrypt hashes only; a login returns a
// short-lived gateway token, never a session bound to the password.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Store } from '../store/index.ts';
import type { Identity } from './types.ts';

// N = 2^15, r = 8: ~32 MiB and tens of ms per hash (OWASP's scrypt minimum is 2^17 with
// r = 8 *or* equivalent cost; 2^15 keeps logins quick on the 2-core machines this runs on
// while the per-account limit caps guessing). The parameters are stored with each hash,
// so they can be raised later without invalidating existing ones.
const PARAMS = { N: 1 << 15, r: 8, p: 1 };
const KEYLEN = 32;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (e, key) => (e ? reject(e) : resolve(key))));
}

const maxmem = (N: number, r: number) => 128 * N * r * 2;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { ...PARAMS, maxmem: maxmem(PARAMS.N, PARAMS.r) });
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [tag, n, r, p, salt, hash] = stored.split('$');
  if (tag !== 'scrypt' || !salt || !hash) return false;
  const N = Number(n), R = Number(r), P = Number(p);
  const expected = Buffer.from(hash, 'base64url');
  const got = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N, r: R, p: P, maxmem: maxmem(N, R) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** A hash of nothing in particular: unknown users cost as much as known ones, so timing does not tell them apart. */
let decoy: Promise<string> | null = null;

export interface LocalUser {
  name: string;
  groups: string[];
  createdAt: number;
  disabledAt: number | null;
}

export const LOCAL_USER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$/;

/** The credential id gateway tokens of a local user derive from: disabling the user revokes it. */
export const localUserCredentialId = (name: string) => `user:${name}`;

export async function addLocalUser(store: Store, name: string, password: string, groups: string[]): Promise<LocalUser> {
  if (!LOCAL_USER_NAME.test(name)) throw new Error(`user name "${name}": letters, digits, "_", ".", "@" and "-", up to 64`);
  if (password.length < 12) throw new Error('password: at least 12 characters');
  const now = Date.now();
  const row = { name, password_hash: await hashPassword(password), groups: JSON.stringify(groups), created_at: now, disabled_at: null };
  await store.db
    .insertInto('local_users')
    .values(row)
    .onConflict((oc) => oc.column('name').doUpdateSet({ password_hash: row.password_hash, groups: row.groups, disabled_at: null }))
    .execute();
  return { name, groups, createdAt: now, disabledAt: null };
}

export async function listLocalUsers(store: Store): Promise<LocalUser[]> {
  const rows = await store.db.selectFrom('local_users').select(['name', 'groups', 'created_at', 'disabled_at']).orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, groups: JSON.parse(r.groups) as string[], createdAt: r.created_at, disabledAt: r.disabled_at }));
}

export async function disableLocalUser(store: Store, name: string): Promise<boolean> {
  const res = await store.db.updateTable('local_users').set({ disabled_at: Date.now() }).where('name', '=', name).where('disabled_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** The identity for a name and password, or null (unknown, disabled or wrong password: the caller is not told which). */
export async function checkLocalLogin(store: Store, name: string, password: string): Promise<Identity | null> {
  const row = await store.db.selectFrom('local_users').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row || row.disabled_at !== null) {
    await verifyPassword(password, await (decoy ??= hashPassword(randomBytes(16).toString('hex'))));
    return null;
  }
  if (!(await verifyPassword(password, row.password_hash))) return null;
  return { kind: 'user', subject: localUserCredentialId(name), name, groups: JSON.parse(row.groups) as string[], credentialId: localUserCredentialId(name) };
}
