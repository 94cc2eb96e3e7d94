// Test certificates: a throwaway CA and a server certificate signed by it.
// Generated with `selfsigned` (pure JS, no openssl CLI needed) and cached per process,
// keyed by the requested names, so many tests can share one (RSA keygen is the slow part).
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export interface TestCertificate {
  /** Server certificate (PEM), signed by `ca`. */
  cert: string;
  /** Server private key (PEM, unencrypted PKCS#8). */
  key: string;
  /** CA certificate (PEM): what a client passes as `ca` to verify the server. */
  ca: string;
}

export interface MakeCertificateOptions {
  /** Subject CN of the server certificate. Default `localhost`. */
  commonName?: string;
  /**
   * Subject alternative names. IPv4/IPv6 literals become IP SANs, anything else DNS SANs.
   * Default `['localhost', '127.0.0.1', '::1']`.
   */
  altNames?: string[];
}

const cache = new Map<string, Promise<TestCertificate>>();

const DAY = 24 * 60 * 60 * 1000;

function isIp(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}

async function build(commonName: string, altNames: string[]): Promise<TestCertificate> {
  const notBeforeDate = new Date(Date.now() - DAY);
  const notAfterDate = new Date(Date.now() + 365 * DAY);
  const ca = await generate([{ name: 'commonName', value: 'Warden Test CA' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: altNames.map((n) => (isIp(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })),
      },
    ],
  });
  // Sanity check once per generation: the server certificate really chains to the CA.
  const caX509 = new X509Certificate(ca.cert);
  const serverX509 = new X509Certificate(server.cert);
  if (!serverX509.verify(caX509.publicKey)) throw new Error('makeCertificate: server cert not signed by CA');
  return { cert: server.cert, key: server.private, ca: ca.cert };
}

/** A CA plus a server certificate for localhost/127.0.0.1 signed by it. Cached per process. */
export function makeCertificate(opts: MakeCertificateOptions = {}): Promise<TestCertificate> {
  const commonName = opts.commonName ?? 'localhost';
  const altNames = opts.altNames ?? ['localhost', '127.0.0.1', '::1'];
  const k = JSON.stringify([commonName, altNames]);
  let p = cache.get(k);
  if (!p) {
    p = build(commonName, altNames);
    cache.set(k, p);
    p.catch(() => cache.delete(k));
  }
  return p;
}
