// The certificate the gateway offers to clients that ask for TLS: the configured one,
// or a self-signed one made on first start and kept in the data dir.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A PEM value given inline or as a file path. */
export function readPem(v: string): string {
  return v.includes('-----BEGIN') ? v : readFileSync(v, 'utf8');
}

export async function gatewayCertificate(dataDir: string, configured?: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  if (configured) return { cert: readPem(configured.cert), key: readPem(configured.key) };
  const certFile = join(dataDir, 'tls-cert.pem');
  const keyFile = join(dataDir, 'tls-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  const pems = await generateInChild();
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert);
  return { cert: pems.cert, key: pems.private };
}

// The generator (selfsigned, with @peculiar/x509 and its ASN.1 stack: ~200 modules) runs in
// a short-lived node process, not in the gateway: an ES module is never unloaded, so
// importing it here kept ~12 MB resident at start (4 MB at a large result's peak) for
// the whole life of a gateway that made its certificate on this start. The key travels
// over the child's stdout pipe only.
async function generateInChild(): Promise<{ cert: string; private: string }> {
  const script = `
    const { generate } = await import(${JSON.stringify(import.meta.resolve('selfsigned'))});
    const pems = await generate([{ name: 'commonName', value: 'warden-gateway' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] }],
    });
    process.stdout.write(JSON.stringify({ cert: pems.cert, private: pems.private }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as { cert: string; private: string };
}
