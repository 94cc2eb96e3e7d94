// The password scrambles of MySQL's auth plugins, both ways: what a client sends for
// mysql_native_password and caching_sha2_password (the gateway is the client upstream),
// checking a native scramble against a stored verifier (API keys), and the RSA key pair
// with which a client without TLS sends caching_sha2_password's full authentication.
import { createHash, generateKeyPairSync, privateDecrypt, publicEncrypt, constants, randomInt, type KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const sha1 = (...parts: Buffer[]) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};
const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

/** 20 random printable bytes: some clients treat the scramble as a C string. */
export function newScramble(): Buffer {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const b = Buffer.allocUnsafe(20);
  for (let i = 0; i < 20; i++) b[i] = chars.charCodeAt(randomInt(chars.length));
  return b;
}

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). */
export function nativeScramble(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/** What the store keeps to check native scrambles of a token: SHA1(SHA1(token)), hex. */
export function nativeVerifier(token: string): string {
  return sha1(sha1(Buffer.from(token, 'utf8'))).toString('hex');
}

/** Does a native scramble answer `scramble` for the token behind `verifierHex`? */
export function checkNative(scramble: Buffer, response: Buffer, verifierHex: string): boolean {
  if (response.length !== 20) return false;
  const stage2 = Buffer.from(verifierHex, 'hex');
  const stage1 = xor(response, sha1(scramble.subarray(0, 20), stage2));
  return sha1(stage1).equals(stage2);
}

/** caching_sha2_password's fast scramble: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce). */
export function sha2Scramble(password: string, nonce: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const p1 = sha256(Buffer.from(password, 'utf8'));
  return xor(p1, sha256(sha256(p1), nonce.subarray(0, 20)));
}

/** A password sent under the server's RSA key: (password + NUL) XOR nonce, OAEP-encrypted. */
export function rsaEncryptPassword(password: string, nonce: Buffer, publicKeyPem: string): Buffer {
  const plain = xor(Buffer.from(`${password}\0`, 'utf8'), nonce.subarray(0, 20));
  return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING }, plain);
}

export interface RsaKeys {
  publicPem: string;
  privateKey: KeyObject;
}

/** Decrypt what a client sent under `keys` for `nonce`: the password, or null when it does not decrypt. */
export function rsaDecryptPassword(data: Buffer, nonce: Buffer, keys: RsaKeys): string | null {
  let plain: Buffer;
  try {
    plain = privateDecrypt({ key: keys.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, data);
  } catch {
    return null;
  }
  const clear = xor(plain, nonce.subarray(0, 20));
  const nul = clear.indexOf(0);
  return clear.toString('utf8', 0, nul < 0 ? clear.length : nul);
}

/**
 * The gateway's RSA key pair for caching_sha2_password without TLS, made once and kept in
 * the data dir (clients may pin the public key); read or made when a client first needs it.
 */
export function loadOrCreateRsaKeys(dataDir: string): RsaKeys {
  let keys: RsaKeys | null = null;
  const get = () => (keys ??= readOrMakeRsaKeys(dataDir));
  return {
    get publicPem() {
      return get().publicPem;
    },
    get privateKey() {
      return get().privateKey;
    },
  };
}

function readOrMakeRsaKeys(dataDir: string): RsaKeys {
  const keyFile = join(dataDir, 'mysql-rsa-key.pem');
  const pubFile = join(dataDir, 'mysql-rsa-public.pem');
  if (existsSync(keyFile)) {
    const privateKey = createPrivateKey(readFileSync(keyFile, 'utf8'));
    const publicPem = existsSync(pubFile) ? readFileSync(pubFile, 'utf8') : createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return { publicPem, privateKey };
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(pubFile, publicPem);
  return { publicPem, privateKey };
}
