// SCRAM-SHA-256 client (RFC 5802 / RFC 7677) for authenticating to an upstream
// Postgres. No channel binding ("n,,"): the gateway verifies the server by TLS instead.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

const hmac = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

function parseAttrs(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) m.set(part.slice(0, i), part.slice(i + 1));
  }
  return m;
}

export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly firstBare = `n=*,r=${this.clientNonce}`;
  private serverSignature: Buffer | null = null;

  constructor(private readonly password: string) {}

  /** SASLInitialResponse payload: mechanism name, then the client-first-message. */
  initial(): Buffer {
    const first = Buffer.from(`n,,${this.firstBare}`);
    const mech = Buffer.from('SCRAM-SHA-256\0');
    const len = Buffer.alloc(4);
    len.writeInt32BE(first.length);
    return Buffer.concat([mech, len, first]);
  }

  /** Answer the server-first-message with the client-final-message. */
  continue(serverFirst: string): Buffer {
    const a = parseAttrs(serverFirst);
    const nonce = a.get('r'), salt = a.get('s'), iter = Number(a.get('i'));
    if (!nonce || !salt || !Number.isInteger(iter) || iter < 1) throw new Error('malformed SCRAM server-first-message');
    if (!nonce.startsWith(this.clientNonce)) throw new Error('SCRAM server nonce does not extend the client nonce');
    const salted = pbkdf2Sync(this.password.normalize('NFKC'), Buffer.from(salt, 'base64'), iter, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const finalNoProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${finalNoProof}`;
    const signature = hmac(sha256(clientKey), authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`);
  }

  /** Check the server-final-message: proves the server knew the password too. */
  finish(serverFinal: string): void {
    const a = parseAttrs(serverFinal);
    if (a.has('e')) throw new Error(`SCRAM error from server: ${a.get('e')}`);
    const v = Buffer.from(a.get('v') ?? '', 'base64');
    if (!this.serverSignature || v.length !== 32 || !timingSafeEqual(v, this.serverSignature)) {
      throw new Error('SCRAM server signature does not match');
    }
  }
}

/** md5 password answer: "md5" + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
}
