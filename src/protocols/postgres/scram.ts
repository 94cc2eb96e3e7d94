// SCRAM-SHA-256 client (RFC 5802 / RFC 7677) for authenticating to an upstream Postgres,
// with SCRAM-SHA-256-PLUS (tls-server-end-point channel binding, RFC 5929) over TLS. The
// exchange is complete only once the server's signature checked out: a server that skips
// it has not proven it knows the password (see `verified`).
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

/**
 * How the client binds the exchange to its TLS link:
 *  - `plus`: SCRAM-SHA-256-PLUS with the server certificate's tls-server-end-point hash;
 *  - `y`: the client could bind but the server offered no -PLUS (over TLS: a server that
 *    does support it sees a downgrade and refuses);
 *  - `n`: no binding (no TLS, or a certificate that has no binding hash).
 */
export type ChannelBinding = { kind: 'plus'; data: Buffer } | { kind: 'y' } | { kind: 'n' };

export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly firstBare = `n=*,r=${this.clientNonce}`;
  private readonly gs2Header: string;
  private serverSignature: Buffer | null = null;
  private done = false;

  constructor(
    private readonly password: string,
    private readonly binding: ChannelBinding = { kind: 'n' },
  ) {
    this.gs2Header = binding.kind === 'plus' ? 'p=tls-server-end-point,,' : `${binding.kind},,`;
  }

  get mechanism(): string {
    return this.binding.kind === 'plus' ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
  }

  /** True once the server-final-message proved the server knows the password. */
  get verified(): boolean {
    return this.done;
  }

  /** SASLInitialResponse payload: mechanism name, then the client-first-message. */
  initial(): Buffer {
    const first = Buffer.from(`${this.gs2Header}${this.firstBare}`);
    const mech = Buffer.from(`${this.mechanism}\0`);
    const len = Buffer.alloc(4);
    len.writeInt32BE(first.length);
    return Buffer.concat([mech, len, first]);
  }

  /** Answer the server-first-message with the client-final-message. */
  continue(serverFirst: string): Buffer {
    if (this.serverSignature) throw new Error('a second SCRAM server-first-message');
    const a = parseAttrs(serverFirst);
    const nonce = a.get('r'), salt = a.get('s'), iter = Number(a.get('i'));
    if (!nonce || !salt || !Number.isInteger(iter) || iter < 1) throw new Error('malformed SCRAM server-first-message');
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) throw new Error('SCRAM server nonce does not extend the client nonce');
    const salted = pbkdf2Sync(this.password.normalize('NFKC'), Buffer.from(salt, 'base64'), iter, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const cbind = this.binding.kind === 'plus' ? Buffer.concat([Buffer.from(this.gs2Header), this.binding.data]) : Buffer.from(this.gs2Header);
    const finalNoProof = `c=${cbind.toString('base64')},r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${finalNoProof}`;
    const signature = hmac(sha256(clientKey), authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`);
  }

  /** Check the server-final-message: proves the server knew the password too. */
  finish(serverFinal: string): void {
    if (!this.serverSignature) throw new Error('SCRAM server-final-message before the server-first-message');
    const a = parseAttrs(serverFinal);
    if (a.has('e')) throw new Error(`SCRAM error from server: ${a.get('e')}`);
    const v = Buffer.from(a.get('v') ?? '', 'base64');
    if (v.length !== 32 || !timingSafeEqual(v, this.serverSignature)) throw new Error('SCRAM server signature does not match');
    this.done = true;
  }
}

/** md5 password answer: "md5" + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
}
