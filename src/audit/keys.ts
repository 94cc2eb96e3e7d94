// The Ed25519 key that signs checkpoints. It lives in the data dir, not in the store, so
// someone who can rewrite the database cannot also re-sign a rewritten chain.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KEY_FILE = 'audit-key.pem';

export interface SigningKey {
  /** PKCS#8 PEM, handed to the SQLite writer thread */
  privatePem: string;
  publicKey: KeyObject;
  /** first 16 hex chars of sha256(SPKI DER): names the key in checkpoints */
  keyId: string;
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

/** Only the public half, for verifying without the right to create a key. */
export function readKey(dataDir: string): SigningKey | null {
  try {
    return fromPem(readFileSync(join(dataDir, KEY_FILE), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export function fromPem(privatePem: string): SigningKey {
  const priv = createPrivateKey(privatePem);
  const publicKey = createPublicKey(priv);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return { privatePem, publicKey, keyId: createHash('sha256').update(der).digest('hex').slice(0, 16) };
}

/** The bytes a checkpoint signature covers. */
function message(seq: number, hash: string): Buffer {
  return Buffer.from(`${seq}\n${hash}`, 'utf8');
}

export type Signer = (seq: number, hash: string) => { signature: string; keyId: string };

export function makeSigner(key: SigningKey): Signer {
  const priv = createPrivateKey(key.privatePem);
  return (seq, hash) => ({ signature: sign(null, message(seq, hash), priv).toString('base64'), keyId: key.keyId });
}

export function checkSignature(key: SigningKey, seq: number, hash: string, signature: string): boolean {
  try {
    return verify(null, message(seq, hash), key.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
