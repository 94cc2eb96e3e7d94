// Forged, stale and misdirected credentials: every one must be refused with the reason
// the audit log will record. The IdP is a real in-process oidc-provider; a second one
// plays "another IdP".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import { startOidcProvider, foreignKey, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { createOidcVerifier, type OidcVerifier } from '../../src/identity/oidc.ts';
import { AuthError } from '../../src/identity/errors.ts';
import { loadOrCreateGatewayKey, gatewayKeyFromPem, type GatewayKeyPair } from '../../src/identity/gateway-key.ts';
import { mintGatewayToken, verifyGatewayToken, GATEWAY_TOKEN_TYP } from '../../src/identity/gateway-token.ts';
import { exchangeForGatewayToken } from '../../src/identity/gateway-token-exchange.ts';
import type { Identity } from '../../src/identity/types.ts';

let idp: TestOidcProvider;
let otherIdp: TestOidcProvider;
let verifier: OidcVerifier;
let gwKey: GatewayKeyPair;

before(async () => {
  [idp, otherIdp] = await Promise.all([startOidcProvider(), startOidcProvider()]);
  verifier = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience, clientId: idp.cliClientId });
  gwKey = loadOrCreateGatewayKey(join(mkdtempSync(join(tmpdir(), 'warden-gw-')), 'gateway.pem'));
});
after(() => Promise.all([idp.close(), otherIdp.close()]));

async function reasonOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof AuthError, `expected AuthError, got ${String(e)}`);
    return e.reason;
  }
  assert.fail('expected the credential to be refused');
}

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
function validClaims(extra: JWTPayload = {}): JWTPayload {
  return { iss: idp.issuer, aud: idp.audience, sub: 'alice', groups: ['admins'], iat: now(), exp: now() + 300, ...extra };
}

test('control: a well-formed token signed with the IdP key is accepted (so the refusals below mean something)', async () => {
  const id = await verifier.verify(await idp.signWithProviderKey(validClaims()));
  assert.equal(id.subject, `${idp.issuer}#alice`);
});

test('alg none is refused', async () => {
  const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(validClaims())}.`;
  assert.equal(await reasonOf(verifier.verify(token)), 'alg_not_allowed');
});

test('HS256 signed with the IdP public key as HMAC secret is refused', async () => {
  const pem = createPublicKey(idp.currentKey().privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: idp.currentKey().kid })}.${b64(validClaims())}`;
  const token = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
  assert.equal(await reasonOf(verifier.verify(token)), 'alg_not_allowed');
});

test('expired beyond the clock tolerance is refused; inside the tolerance accepted', async () => {
  const expired = await idp.signWithProviderKey(validClaims({ iat: now() - 7200, exp: now() - 3600 }));
  assert.equal(await reasonOf(verifier.verify(expired)), 'expired');
  const skewed = await idp.signWithProviderKey(validClaims({ exp: now() - 5 }));
  assert.equal((await verifier.verify(skewed)).subject, `${idp.issuer}#alice`);
});

test('not yet valid (nbf in the future) is refused', async () => {
  const token = await idp.signWithProviderKey(validClaims({ nbf: now() + 3600, exp: now() + 7200 }));
  assert.equal(await reasonOf(verifier.verify(token)), 'not_yet_valid');
});

test('wrong issuer is refused, even when signed with the right key', async () => {
  const token = await idp.signWithProviderKey(validClaims({ iss: 'https://evil.example' }));
  assert.equal(await reasonOf(verifier.verify(token)), 'wrong_issuer');
});

test('wrong audience is refused (a token minted for another API)', async () => {
  const token = await idp.signWithProviderKey(validClaims({ aud: 'billing-api' }));
  assert.equal(await reasonOf(verifier.verify(token)), 'wrong_audience');
});

test('unknown kid is refused', async () => {
  const k = foreignKey();
  const token = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'RS256', kid: k.kid }).sign(k.privateKey);
  assert.equal(await reasonOf(verifier.verify(token)), 'unknown_key');
});

test('a foreign key claiming the IdP kid is refused as a bad signature', async () => {
  const k = foreignKey();
  const token = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'RS256', kid: idp.currentKey().kid }).sign(k.privateKey);
  assert.equal(await reasonOf(verifier.verify(token)), 'bad_signature');
});

test('tampered payload of a real token (groups escalated) is refused', async () => {
  const { accessToken } = await idp.userTokens('bob');
  const [h, p, s] = accessToken.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  assert.deepEqual(claims.groups, ['engineers']);
  const forged = `${h}.${b64({ ...claims, groups: ['admins'] })}.${s}`;
  assert.equal(await reasonOf(verifier.verify(forged)), 'bad_signature');
});

test('a real token of another IdP is refused', async () => {
  const token = await otherIdp.clientCredentialsToken();
  assert.equal(await reasonOf(verifier.verify(token)), 'wrong_issuer');
  const { idToken } = await otherIdp.userTokens('alice');
  assert.equal(await reasonOf(verifier.verify(idToken)), 'wrong_issuer');
});

test('malformed input is refused, not crashed on', async () => {
  for (const t of ['', 'abc', 'a.b.c', '....', `${b64({ alg: 'RS256' })}.!!!.x`]) {
    assert.equal(await reasonOf(verifier.verify(t)), 'malformed', t);
  }
});

// ---- gateway tokens -------------------------------------------------------------

const agent: Identity = { kind: 'service', subject: 'agent-ci', name: 'agent-ci', groups: ['ai-agents'], credentialId: 'src-1' };

test('client credentials -> exchange -> gateway token -> verify', async () => {
  const cc = await idp.clientCredentialsToken();
  const grant = await exchangeForGatewayToken({ type: 'oidc', token: cc }, { key: gwKey, verifier });
  // The client-credentials token lives 600 s: the gateway token it buys may not outlive it.
  const ccExp = (JSON.parse(Buffer.from(cc.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
  assert.ok(grant.expiresIn <= 600 && grant.expiresIn > 500, `expires in ${grant.expiresIn} s`);
  const id = verifyGatewayToken(gwKey.publicKey, grant.token);
  assert.equal(id.kind, 'service');
  assert.equal(id.subject, `${idp.issuer}#agent-ci`);
  assert.deepEqual(id.groups, ['ai-agents']);
  assert.ok(id.credentialId && id.credentialId !== grant.identity.credentialId, 'credentialId is the gateway token jti');
  assert.ok(id.expiresAt! <= ccExp * 1000, 'the gateway token expires no later than its source');
  // The gateway token is not an IdP token: the OIDC door refuses it, and it cannot renew itself.
  assert.equal(await reasonOf(verifier.verify(grant.token)), 'wrong_issuer');
  assert.equal(await reasonOf(exchangeForGatewayToken({ type: 'oidc', token: grant.token }, { key: gwKey, verifier })), 'wrong_issuer');
});

test('a human user token cannot be exchanged for a gateway token', async () => {
  const { accessToken } = await idp.userTokens('alice');
  assert.equal(await reasonOf(exchangeForGatewayToken({ type: 'oidc', token: accessToken }, { key: gwKey, verifier })), 'not_exchangeable');
});

test('a revoked gateway token is refused: by its jti, by its source credential, by its subject', async () => {
  const token = mintGatewayToken(gwKey, { identity: agent, sourceCredentialId: 'apikey-42' });
  const { credentialId: jti } = verifyGatewayToken(gwKey.publicKey, token, { isRevoked: () => false });
  const revokedJtis = new Set([jti!]);
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, token, { isRevoked: (j) => revokedJtis.has(j) })), 'revoked');
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, token, { isRevoked: (_j, t) => t.sourceCredentialId === 'apikey-42' })), 'revoked');
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, token, { isRevoked: (_j, t) => t.subject === 'agent-ci' })), 'revoked');
});

test('a gateway token signed by another key is refused', async () => {
  const other = gatewayKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const token = mintGatewayToken(other, { identity: agent });
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, token)), 'unknown_key');
  // ... and when it also claims our kid, the signature check catches it.
  const [, p] = token.split('.');
  const input = `${b64({ alg: 'EdDSA', typ: GATEWAY_TOKEN_TYP, kid: gwKey.kid })}.${p}`;
  const forged = `${input}.${sign(null, Buffer.from(input), other.privateKey).toString('base64url')}`;
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, forged)), 'bad_signature');
});

test('gateway token attacks: tampered groups, HS256 with the public key, expired, an IdP token at the gateway door', async () => {
  const token = mintGatewayToken(gwKey, { identity: agent });
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, `${h}.${b64({ ...claims, groups: ['admins'] })}.${s}`)), 'bad_signature');

  const pem = gwKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const input = `${b64({ alg: 'HS256', typ: GATEWAY_TOKEN_TYP, kid: gwKey.kid })}.${p}`;
  const hs = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, hs)), 'alg_not_allowed');

  const old = mintGatewayToken(gwKey, { identity: agent, ttlSec: 60, now: Date.now() - 3600_000 });
  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, old)), 'expired');

  assert.equal(await reasonOf(() => verifyGatewayToken(gwKey.publicKey, `${b64({ alg: 'none', typ: GATEWAY_TOKEN_TYP })}.${p}.`)), 'malformed');
  assert.equal(await reasonOf(async () => verifyGatewayToken(gwKey.publicKey, await idp.clientCredentialsToken())), 'alg_not_allowed');
});
