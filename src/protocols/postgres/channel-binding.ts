// tls-server-end-point channel binding (RFC 5929 §4.1) for SCRAM-SHA-256-PLUS: the hash
// of the server's certificate, with the hash of the certificate's own signature algorithm
// (SHA-256 when that is MD5 or SHA-1). Both ends compute it from the certificate they see
// on the TLS link, so a man in the middle with another certificate makes the server refuse
// the SCRAM proof even when the gateway did not verify the certificate.
import { createHash } from 'node:crypto';

// signatureAlgorithm OIDs -> the hash tls-server-end-point uses. RSASSA-PSS and EdDSA have
// no single hash here (Postgres cannot bind them either): no binding is offered for them.
const HASH_OF: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};

/** One DER element at `at`: where its content starts and ends. */
function element(der: Buffer, at: number, tag: number): { start: number; end: number } {
  if (der[at] !== tag) throw new Error(`expected DER tag ${tag} at ${at}`);
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { start, end: start + len };
}

function oidString(b: Buffer): string {
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** The OID of a certificate's signatureAlgorithm (Certificate ::= SEQUENCE { tbs, sigAlg, sig }). */
export function signatureAlgorithmOid(der: Buffer): string {
  const cert = element(der, 0, 0x30);
  const tbs = element(der, cert.start, 0x30);
  const alg = element(der, tbs.end, 0x30);
  const oid = element(der, alg.start, 0x06);
  return oidString(der.subarray(oid.start, oid.end));
}

/** The tls-server-end-point binding data of a DER certificate, or null when its algorithm has no binding hash. */
export function tlsServerEndPoint(der: Buffer): Buffer | null {
  let hash: string | undefined;
  try {
    hash = HASH_OF[signatureAlgorithmOid(der)];
  } catch {
    return null;
  }
  return hash ? createHash(hash).update(der).digest() : null;
}
