// MariaDB's client_ed25519 auth plugin, client side: the server sends a 32-byte nonce and
// the client signs it with Ed25519, its secret scalar and prefix taken from SHA-512 of the
// PASSWORD itself (not of a 32-byte seed, as standard Ed25519 keys are made), which is why
// node:crypto cannot sign it. Once per upstream connection, so plain BigInt arithmetic.
import { createHash } from 'node:crypto';

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = mod(-121665n * inverse(121666n));
const BASE_Y = mod(4n * inverse(5n));
const BASE: Point = (() => {
  const x = recoverX(BASE_Y, 0);
  return [x, BASE_Y, 1n, mod(x * BASE_Y)];
})();

/** Extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, xy = T/Z. */
type Point = [bigint, bigint, bigint, bigint];

function mod(a: bigint, m = P): bigint {
  const r = a % m;
  return r >= 0n ? r : r + m;
}

function pow(b: bigint, e: bigint, m = P): bigint {
  let r = 1n;
  let x = mod(b, m);
  while (e > 0n) {
    if (e & 1n) r = (r * x) % m;
    x = (x * x) % m;
    e >>= 1n;
  }
  return r;
}

function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}

function recoverX(y: bigint, sign: number): bigint {
  const y2 = y * y;
  const x2 = mod((y2 - 1n) * inverse(D * y2 + 1n));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * pow(2n, (P - 1n) / 4n));
  if (Number(x & 1n) !== sign) x = P - x;
  return x;
}

function add(a: Point, b: Point): Point {
  const [x1, y1, z1, t1] = a;
  const [x2, y2, z2, t2] = b;
  const A = mod((y1 - x1) * (y2 - x2));
  const B = mod((y1 + x1) * (y2 + x2));
  const C = mod(2n * D * t1 * t2);
  const Dd = mod(2n * z1 * z2);
  const E = B - A, F = Dd - C, G = Dd + C, H = B + A;
  return [mod(E * F), mod(G * H), mod(F * G), mod(E * H)];
}

function multiply(k: bigint, p: Point): Point {
  let r: Point = [0n, 1n, 1n, 0n];
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}

function encode(p: Point): Buffer {
  const zi = inverse(p[2]);
  const x = mod(p[0] * zi);
  const y = mod(p[1] * zi);
  const out = Buffer.alloc(32);
  let v = y;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (x & 1n) out[31]! |= 0x80;
  return out;
}

function littleEndian(b: Buffer): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

function scalarBytes(v: bigint): Buffer {
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const sha512 = (...parts: Buffer[]) => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** The 64-byte signature of `message` that MariaDB's auth_ed25519 checks for this password. */
export function ed25519PasswordSign(password: string, message: Buffer): Buffer {
  const az = sha512(Buffer.from(password, 'utf8'));
  az[0]! &= 248;
  az[31]! &= 63;
  az[31]! |= 64;
  const a = littleEndian(az.subarray(0, 32));
  const publicKey = encode(multiply(a, BASE));
  const r = mod(littleEndian(sha512(az.subarray(32, 64), message)), L);
  const R = encode(multiply(r, BASE));
  const k = mod(littleEndian(sha512(R, publicKey, message)), L);
  const S = mod(r + k * a, L);
  return Buffer.concat([R, scalarBytes(S)]);
}

/** The public key MariaDB stores for this password (`CREATE USER ... IDENTIFIED VIA ed25519 USING PASSWORD('...')`), base64 without padding. */
export function ed25519PasswordPublicKey(password: string): string {
  const az = sha512(Buffer.from(password, 'utf8'));
  az[0]! &= 248;
  az[31]! &= 63;
  az[31]! |= 64;
  return encode(multiply(littleEndian(az.subarray(0, 32)), BASE)).toString('base64').replace(/=+$/, '');
}
