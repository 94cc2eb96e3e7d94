// The Ed25519 key that signs the chain's heads. It lives in the data dir, not in the
// store, so someone who can rewrite the database cannot also re-sign a rewritten chain.
// Verify trusts that key only when no public key is pinned (gateway.audit.publicKey or
// --public-key): a pinned key is the one defence against a data dir whose key was
// replaced along with the chain.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KEY_FILE = 'audit-key.pem';

/** A key verify can check signatures with. */
export interface PublicKey {
  publicKey: KeyObject;
  /** first 16 hex chars of sha256(SPKI DER): names the key in heads */
  keyId: string;
}

export interface SigningKey extends PublicKey {
  /** PKCS#8 PEM, handed to the SQLite writer thread */
  privatePem: string;
}

/** Load `<dataDir>/audit-key.pem`, creating it (mode 0600) on first use. */
export function loadOrCreateKey(dataDir: string): SigningKey {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, KEY_FILE);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const { privateKey } = generateKeyPairSync('ed25519');
    const fresh = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    try {
      // 'wx': if another process created it meanwhile, keep theirs.
      writeFileSync(file, fresh, { mode: 0o600, flag: 'wx' });
      pem = fresh;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
      pem = readFileSync(file, 'utf8');
    }
  }
  return fromPem(pem);
}

/** The data dir's key, for verifying without the right to create one. */
export function readKey(dataDir: string): SigningKey | null {
  try {
    return fromPem(readFileSync(join(dataDir, KEY_FILE), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export function fromPem(privatePem: string): SigningKey {
  const publicKey = createPublicKey(createPrivateKey(privatePem));
  return { privatePem, publicKey, keyId: keyIdOf(publicKey) };
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/**
 * A pinned public key: PEM text ("-----BEGIN PUBLIC KEY-----") or the path of a file
 * holding it. A private key is refused: pinning exists so that verifying never needs it.
 */
export function readPublicKey(pemOrPath: string): PublicKey {
  const pem = pemOrPath.includes('-----BEGIN') ? pemOrPath : readFileSync(pemOrPath, 'utf8');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new Error('expected the audit public key, got a private key (print the public one with `warden audit public-key`)');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch (e) {
    throw new Error(`not a PEM public key: ${(e as Error).message}`, { cause: e });
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 key, got ${publicKey.asymmetricKeyType}`);
  return { publicKey, keyId: keyIdOf(publicKey) };
}

export function publicPem(key: PublicKey): string {
  return key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
}

/** Signs a message, returns the base64 signature. */
export type Signer = (message: string) => string;

export function makeSigner(key: SigningKey): Signer {
  const priv = createPrivateKey(key.privatePem);
  return (message) => sign(null, Buffer.from(message, 'utf8'), priv).toString('base64');
}

export function checkSignature(publicKey: KeyObject, message: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(message, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** What a checkpoint of a chain written before signed heads (every N events) signed. */
export function legacyCheckpointMessage(seq: number, hash: string): string {
  return `${seq}\n${hash}`;
}
