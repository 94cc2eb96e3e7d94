// The gateway's own signing key for gateway tokens: one Ed25519 pair in a PEM file that
// every replica reads (shared data dir or a mounted secret), so a token minted by one
// replica verifies on all of them.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface GatewayKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** RFC 7638 thumbprint of the public key; names the key in token headers */
  kid: string;
}

/** RFC 7638 JWK thumbprint of an Ed25519 public key (sync; jose's is async). */
export function gatewayKeyId(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as { crv?: string; kty?: string; x?: string };
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') throw new Error('gateway key must be Ed25519');
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function gatewayKeyFromPem(privatePem: string): GatewayKeyPair {
  const privateKey = createPrivateKey(privatePem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('gateway key must be Ed25519');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: gatewayKeyId(publicKey) };
}

/** The public half as PEM, for replicas or tools that only verify. */
export function gatewayPublicKeyPem(key: GatewayKeyPair): string {
  return key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Read the key at `path`, creating it (mode 0600, parent 0700) when missing. Creation uses
 * O_EXCL so two replicas starting together on a shared volume end up with the same key:
 * the loser of the race reads the winner's file.
 */
export function loadOrCreateGatewayKey(path: string): GatewayKeyPair {
  try {
    return readKey(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readKey(path);
}

function readKey(path: string): GatewayKeyPair {
  const pem = readFileSync(path, 'utf8');
  // A private key readable by others is tightened; a read-only mount (a Kubernetes
  // secret) cannot be, and is the operator's responsibility.
  if ((statSync(path).mode & 0o077) !== 0) {
    try {
      chmodSync(path, 0o600);
    } catch {
      /* read-only mount */
    }
  }
  return gatewayKeyFromPem(pem);
}
