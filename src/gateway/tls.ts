// The certificate the gateway offers to clients that ask for TLS: the configured one,
// or a self-signed one made on first start and kept in the data dir.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A PEM value given inline or as a file path. */
export function readPem(v: string): string {
  return v.includes('-----BEGIN') ? v : readFileSync(v, 'utf8');
}

export async function gatewayCertificate(dataDir: string, configured?: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  if (configured) return { cert: readPem(configured.cert), key: readPem(configured.key) };
  const certFile = join(dataDir, 'tls-cert.pem');
  const keyFile = join(dataDir, 'tls-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  // Loaded only to make one (~10 MB more resident memory for the gateway's lifetime otherwise).
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'warden-gateway' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] }],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert);
  return { cert: pems.cert, key: pems.private };
}
