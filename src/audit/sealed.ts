// Original values of masked results, kept only when a connection sets
// `masking.keepOriginals`: sealed with AES-256-GCM under a key that lives outside the
// store (a file in the data dir or WARDEN_ORIGINALS_KEY), so a copy of the database
// alone reveals nothing. Only an auditor's explicit, audited call opens them.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/** Seal a JSON-able value: "v1.<iv>.<ciphertext>.<tag>" (base64url parts). `aad` binds it to its place. */
export function seal(key: Buffer, value: unknown, aad: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
  return [VERSION, iv.toString('base64url'), ct.toString('base64url'), c.getAuthTag().toString('base64url')].join('.');
}

export function unseal(key: Buffer, sealed: string, aad: string): unknown {
  const [v, iv, ct, tag] = sealed.split('.');
  if (v !== VERSION || !iv || ct === undefined || !tag) throw new Error('not a sealed value');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return JSON.parse(Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8'));
  } catch {
    throw new Error('the sealed originals cannot be opened with this key (wrong key or altered data)');
  }
}
