// Gateway key file and gateway tokens (no IdP needed here; the exchange from a real
// client-credentials token is in test/security/identity-attacks.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { loadOrCreateGatewayKey, gatewayPublicKeyPem } from '../../src/identity/gateway-key.ts';
import {
  mintGatewayToken,
  verifyGatewayToken,
  isGatewayToken,
  peekIssuer,
  GATEWAY_TOKEN_ISSUER,
  MAX_GATEWAY_TOKEN_TTL_SEC,
} from '../../src/identity/gateway-token.ts';
import { exchangeForGatewayToken } from '../../src/identity/gateway-token-exchange.ts';
import { AuthError } from '../../src/identity/errors.ts';
import type { Identity } from '../../src/identity/types.ts';
import { createPublicKey } from 'node:crypto';

const dir = () => mkdtempSync(join(tmpdir(), 'warden-gwkey-'));
const svc: Identity = { kind: 'service', subject: 'sa-deploy', name: 'deploy-bot', groups: ['ai-agents', 'deployers'] };

test('the gateway key is created once with mode 0600 and read back by every replica', () => {
  const path = join(dir(), 'keys', 'gateway.pem');
  const a = loadOrCreateGatewayKey(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
  const b = loadOrCreateGatewayKey(path); // a second replica
  assert.equal(a.kid, b.kid);
  const token = mintGatewayToken(a, { identity: svc });
  // A verifier holding only the public PEM accepts it.
  assert.equal(verifyGatewayToken(createPublicKey(gatewayPublicKeyPem(b)), token).subject, 'sa-deploy');
});

test('a key file readable by others is tightened to 0600; a non-Ed25519 key is refused', () => {
  const path = join(dir(), 'gateway.pem');
  loadOrCreateGatewayKey(path);
  chmodSync(path, 0o644);
  loadOrCreateGatewayKey(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const rsa = join(dir(), 'rsa.pem');
  writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  assert.throws(() => loadOrCreateGatewayKey(rsa), /Ed25519/);
});

test('mint and verify round-trip: identity, jti as credentialId, 1 h default lifetime', () => {
  const key = loadOrCreateGatewayKey(join(dir(), 'k.pem'));
  const t0 = Date.now();
  const token = mintGatewayToken(key, { identity: svc, now: t0 });
  const id = verifyGatewayToken(key.publicKey, token, { now: t0 });
  assert.equal(id.kind, 'service');
  assert.equal(id.subject, 'sa-deploy');
  assert.equal(id.name, 'deploy-bot');
  assert.deepEqual(id.groups, ['ai-agents', 'deployers']);
  assert.match(id.credentialId ?? '', /^[A-Za-z0-9_-]{24}$/);
  assert.equal(id.expiresAt, (Math.floor(t0 / 1000) + 3600) * 1000);
  assert.notEqual(verifyGatewayToken(key.publicKey, mintGatewayToken(key, { identity: svc })).credentialId, id.credentialId, 'every token has its own jti');
  assert.ok(isGatewayToken(token));
  assert.equal(peekIssuer(token), GATEWAY_TOKEN_ISSUER);
  assert.equal(peekIssuer('garbage'), undefined);
});

test('lifetime: a TTL is honoured, capped at 24 h, and the token expires after it', () => {
  const key = loadOrCreateGatewayKey(join(dir(), 'k.pem'));
  const t0 = 1_800_000_000_000;
  const short = mintGatewayToken(key, { identity: svc, ttlSec: 120, now: t0 });
  assert.equal(verifyGatewayToken(key.publicKey, short, { now: t0 + 119_000 }).subject, 'sa-deploy');
  assert.throws(() => verifyGatewayToken(key.publicKey, short, { now: t0 + 120_000 + 31_000 }), (e: unknown) => e instanceof AuthError && e.reason === 'expired');
  assert.throws(() => verifyGatewayToken(key.publicKey, short, { now: t0 - 60_000 }), (e: unknown) => e instanceof AuthError && e.reason === 'not_yet_valid');
  const long = mintGatewayToken(key, { identity: svc, ttlSec: 30 * 24 * 3600, now: t0 });
  assert.equal(verifyGatewayToken(key.publicKey, long, { now: t0 }).expiresAt, t0 + MAX_GATEWAY_TOKEN_TTL_SEC * 1000);
  assert.throws(() => mintGatewayToken(key, { identity: svc, ttlSec: 0 }), /positive/);
});

test('key rollover: a verifier given old and new public keys accepts both', () => {
  const oldKey = loadOrCreateGatewayKey(join(dir(), 'old.pem'));
  const newKey = loadOrCreateGatewayKey(join(dir(), 'new.pem'));
  const both = [newKey.publicKey, oldKey.publicKey];
  assert.equal(verifyGatewayToken(both, mintGatewayToken(oldKey, { identity: svc })).subject, 'sa-deploy');
  assert.equal(verifyGatewayToken(both, mintGatewayToken(newKey, { identity: svc })).subject, 'sa-deploy');
});

test('exchange of an API key: the looked-up identity is carried, unknown keys refused', async () => {
  const key = loadOrCreateGatewayKey(join(dir(), 'k.pem'));
  const keys = new Map<string, Identity>([['wk_live_abc', { kind: 'apikey', subject: 'key-7', name: 'ci-key', groups: ['ci'], credentialId: 'key-7' }]]);
  const lookupApiKey = (k: string) => keys.get(k) ?? null;
  const grant = await exchangeForGatewayToken({ type: 'apikey', key: 'wk_live_abc' }, { key, lookupApiKey, ttlSec: 600 });
  assert.equal(grant.expiresIn, 600);
  assert.equal(grant.tokenType, 'Bearer');
  // Revoking the API key (the source credential) revokes the gateway tokens derived from it.
  const revokedKeys = new Set(['key-7']);
  assert.throws(
    () => verifyGatewayToken(key.publicKey, grant.token, { isRevoked: (_j, t) => revokedKeys.has(t.sourceCredentialId ?? '') }),
    (e: unknown) => e instanceof AuthError && e.reason === 'revoked',
  );
  const id = verifyGatewayToken(key.publicKey, grant.token);
  assert.equal(id.kind, 'apikey');
  assert.deepEqual(id.groups, ['ci']);
  await assert.rejects(exchangeForGatewayToken({ type: 'apikey', key: 'wk_live_nope' }, { key, lookupApiKey }), (e: unknown) => e instanceof AuthError && e.reason === 'invalid_credential');
  await assert.rejects(exchangeForGatewayToken({ type: 'oidc', token: 'x.y.z' }, { key }), (e: unknown) => e instanceof AuthError && e.reason === 'invalid_credential');
});
