// tls-server-end-point: the hash follows the certificate's signature algorithm (RFC 5929),
// read from the certificate's DER; algorithms without a binding hash get none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { signatureAlgorithmOid, tlsServerEndPoint } from '../../src/protocols/postgres/channel-binding.ts';
import { makeCertificate } from '../helpers/tls.ts';

test('an ECDSA-SHA256 certificate binds with its SHA-256 hash', async () => {
  const der = new X509Certificate((await makeCertificate()).cert).raw;
  assert.equal(signatureAlgorithmOid(der), '1.2.840.10045.4.3.2');
  assert.deepEqual(tlsServerEndPoint(der), createHash('sha256').update(der).digest());
});

test('RSA with SHA-384 binds with SHA-384; SHA-1 is raised to SHA-256', async () => {
  for (const [algorithm, oid, hash] of [['sha384', '1.2.840.113549.1.1.12', 'sha384'], ['sha1', '1.2.840.113549.1.1.5', 'sha256']] as const) {
    const c = await generate([{ name: 'commonName', value: 'x' }], { keySize: 2048, algorithm });
    const der = new X509Certificate(c.cert).raw;
    assert.equal(signatureAlgorithmOid(der), oid);
    assert.deepEqual(tlsServerEndPoint(der), createHash(hash).update(der).digest());
  }
});

test('garbage is no certificate and has no binding', () => {
  assert.equal(tlsServerEndPoint(Buffer.from([0x30, 0x82, 0xff])), null);
  assert.equal(tlsServerEndPoint(Buffer.alloc(0)), null);
});
