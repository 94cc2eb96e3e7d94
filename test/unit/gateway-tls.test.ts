// The gateway's own TLS certificate: made on first start (in a child process, so the
// generator's modules never load into the gateway) and read back from the data dir after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { gatewayCertificate } from '../../src/gateway/tls.ts';

test('first start makes a self-signed certificate for localhost that a TLS server can use; later starts read it back', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
  const made = await gatewayCertificate(dataDir);
  const x = new X509Certificate(made.cert);
  assert.match(x.subject, /CN=warden-gateway/);
  assert.equal(x.checkHost('localhost'), 'localhost');
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.checkIP('::1'), '::1');
  assert.ok(x.checkPrivateKey(createPrivateKey(made.key)), 'the key is the certificate\'s');
  assert.ok(new Date(x.validTo).getTime() > Date.now() + 365 * 24 * 3600 * 1000);
  assert.equal(statSync(join(dataDir, 'tls-key.pem')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dataDir, 'tls-cert.pem'), 'utf8'), made.cert);

  assert.deepEqual(await gatewayCertificate(dataDir), made, 'a second start reuses the stored pair');

  const server = createServer({ cert: made.cert, key: made.key }, (s) => s.end('hi'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const fingerprint = await new Promise<string>((resolve, reject) => {
      const s: TLSSocket = connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        resolve(s.getPeerX509Certificate()!.fingerprint256);
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.equal(fingerprint, x.fingerprint256);
  } finally {
    server.close();
  }
});

test('a configured certificate is used as given (inline PEM)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
  const made = await gatewayCertificate(dataDir);
  assert.deepEqual(await gatewayCertificate(mkdtempSync(join(tmpdir(), 'warden-tls-')), made), made);
});
