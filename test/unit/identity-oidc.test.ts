// OIDC verification against a real in-process OpenID provider (oidc-provider 9).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtectedHeader } from 'jose';
import { startOidcProvider, foreignKey, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { createOidcVerifier } from '../../src/identity/oidc.ts';
import { identityFromClaims, groupsFrom } from '../../src/identity/oidc-claims.ts';
import { AuthError } from '../../src/identity/errors.ts';
import { SignJWT } from 'jose';

let idp: TestOidcProvider;

before(async () => {
  idp = await startOidcProvider();
});
after(() => idp.close());

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AuthError, `expected AuthError, got ${String(e)}`);
    return e.reason;
  }
  assert.fail('expected the token to be refused');
}

test('discovery: verifier is built from the issuer metadata; a mismatching issuer is refused', async () => {
  const v = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  assert.equal(v.issuer, idp.issuer);
  // OIDC Discovery §4.3: the document must name exactly the configured issuer.
  await assert.rejects(createOidcVerifier({ issuer: `${idp.issuer}/`, audience: 'warden' }), /names issuer/);
  await assert.rejects(createOidcVerifier({ issuer: 'http://127.0.0.1:9', audience: 'warden', httpTimeoutMs: 2000 }), (e: unknown) => e instanceof AuthError && e.reason === 'unavailable');
  await assert.rejects(createOidcVerifier({ issuer: idp.issuer, audience: 'warden', algorithms: ['HS256'] }), /cannot be allowed/);
});

test('a user access token from auth code + PKCE becomes a user Identity with groups', async () => {
  const v = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  const { accessToken } = await idp.userTokens('alice');
  const id = await v.verify(accessToken);
  assert.equal(id.kind, 'user');
  assert.equal(id.subject, `${idp.issuer}#alice`);
  assert.deepEqual(id.groups, ['admins', 'engineers']);
  assert.ok(id.credentialId, 'jti is the credential id');
  assert.ok(id.expiresAt && id.expiresAt > Date.now());
});

test('ID tokens are accepted only for the configured client id, and name the user by verified email', async () => {
  const { idToken } = await idp.userTokens('bob');
  const withClient = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience, clientId: idp.cliClientId });
  const id = await withClient.verify(idToken);
  assert.equal(id.kind, 'user');
  assert.equal(id.subject, `${idp.issuer}#bob`);
  assert.equal(id.name, 'bob@example.test');
  assert.deepEqual(id.groups, ['engineers']);
  const apiOnly = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  assert.equal(await reasonOf(apiOnly.verify(idToken)), 'wrong_audience');
});

test('a client-credentials access token becomes a service Identity with the client groups', async () => {
  const v = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  const id = await v.verify(await idp.clientCredentialsToken());
  assert.equal(id.kind, 'service');
  assert.equal(id.subject, `${idp.issuer}#agent-ci`);
  assert.equal(id.name, `${idp.issuer}#agent-ci`);
  assert.deepEqual(id.groups, ['ai-agents']);
});

test('refresh: the access token from the refresh grant verifies too', async () => {
  const v = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  const first = await idp.userTokens('bob');
  assert.ok(first.refreshToken, 'offline_access gave a refresh token');
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.refreshToken, client_id: idp.cliClientId }),
  });
  const body = (await res.json()) as { access_token: string };
  assert.equal(res.status, 200);
  assert.notEqual(body.access_token, first.accessToken);
  const id = await v.verify(body.access_token);
  assert.equal(id.subject, `${idp.issuer}#bob`);
  assert.deepEqual(id.groups, ['engineers']);
});

test('key rotation: a token with the new kid verifies after rotation; a dropped key stops verifying', async () => {
  const own = await startOidcProvider({ alg: 'ES256' });
  try {
    const v = await createOidcVerifier({ issuer: own.issuer, audience: own.audience, jwksCooldownSec: 0 });
    const before = await own.clientCredentialsToken();
    await v.verify(before); // JWKS now cached with the first key
    const oldKid = own.currentKey().kid;

    await own.rotateKeys();
    const after = await own.clientCredentialsToken();
    assert.notEqual(decodeProtectedHeader(after).kid, oldKid, 'new tokens carry the new kid');
    assert.equal((await v.verify(after)).subject, `${own.issuer}#agent-ci`); // unknown kid -> JWKS refetched
    assert.equal((await v.verify(before)).subject, `${own.issuer}#agent-ci`); // old key still published

    await own.rotateKeys({ dropOld: true });
    const fresh = await createOidcVerifier({ issuer: own.issuer, audience: own.audience });
    assert.equal(await reasonOf(fresh.verify(before)), 'unknown_key');
  } finally {
    await own.close();
  }
});

test('unknown kids do not hammer the IdP: JWKS refetches are bounded by the cooldown', async () => {
  const own = await startOidcProvider();
  try {
    const v = await createOidcVerifier({ issuer: own.issuer, audience: own.audience }); // default 30 s cooldown
    await v.verify(await own.clientCredentialsToken());
    const fetchesAfterWarmup = own.jwksFetches();
    assert.equal(fetchesAfterWarmup, 1);
    for (let i = 0; i < 5; i++) {
      const k = foreignKey();
      const t = await new SignJWT({ sub: 'x' })
        .setProtectedHeader({ alg: 'RS256', kid: k.kid })
        .setIssuer(own.issuer).setAudience(own.audience).setIssuedAt().setExpirationTime('5m')
        .sign(k.privateKey);
      assert.equal(await reasonOf(v.verify(t)), 'unknown_key');
    }
    assert.ok(own.jwksFetches() <= fetchesAfterWarmup + 1, `JWKS fetched ${own.jwksFetches()} times`);
  } finally {
    await own.close();
  }
});

test('claim mapping: nested groups claim, junk in groups ignored, service detection signals', () => {
  const base = { sub: 'u1', exp: 2_000_000_000 };
  assert.deepEqual(groupsFrom({ ...base, realm_access: { roles: ['a', 'b'] } }, 'realm_access.roles'), ['a', 'b']);
  assert.deepEqual(groupsFrom({ ...base, groups: ['a', 7, null, '', 'a', 'b'] }, 'groups'), ['a', 'b']);
  assert.deepEqual(groupsFrom({ ...base, groups: { admin: true } }, 'groups'), []);
  assert.deepEqual(groupsFrom({ ...base, groups: 'solo' }, 'groups'), ['solo']);
  const svc = (p: Record<string, unknown>, at = true) => identityFromClaims({ ...base, ...p }, { groupsClaim: 'groups', isAccessToken: at, issuer: 'https://idp.test' }).kind;
  assert.equal(svc({ client_id: 'u1' }), 'service');
  assert.equal(svc({ gty: 'client-credentials' }), 'service');
  assert.equal(svc({ idtyp: 'app' }), 'service');
  assert.equal(svc({ client_id: 'cli', azp: 'cli' }), 'user');
  assert.equal(svc({ client_id: 'u1' }, false), 'user', 'an ID token always stands for a user');
});

test('claim mapping: keyed by issuer + sub; named by a verified email only, never by names the user may set', () => {
  const map = (p: Record<string, unknown>) => identityFromClaims({ sub: 'u1', exp: 2_000_000_000, ...p }, { groupsClaim: 'groups', isAccessToken: true, issuer: 'https://idp.test' });
  assert.equal(map({}).subject, 'https://idp.test#u1');
  assert.equal(map({ email: 'u1@corp.test', email_verified: true }).name, 'u1@corp.test');
  assert.equal(map({ email: 'u1@corp.test', email_verified: 'true' }).name, 'u1@corp.test');
  for (const unverified of [{ email: 'ceo@corp.test' }, { email: 'ceo@corp.test', email_verified: false }, { preferred_username: 'admin' }, { name: 'alice' }]) {
    assert.equal(map(unverified).name, 'https://idp.test#u1', JSON.stringify(unverified));
  }
  // A service is named by its key too: a client name is not an account name.
  assert.equal(map({ client_id: 'u1', email: 'x@corp.test', email_verified: true }).name, 'https://idp.test#u1');
});

test('IdP down: cached keys keep verifying; a kid that needs a refetch is refused as unavailable', async () => {
  const own = await startOidcProvider();
  const v = await createOidcVerifier({ issuer: own.issuer, audience: own.audience, jwksCooldownSec: 0, httpTimeoutMs: 2000 });
  const token = await own.clientCredentialsToken();
  await v.verify(token);
  const k = foreignKey();
  const unknown = await new SignJWT({ sub: 'x' })
    .setProtectedHeader({ alg: 'RS256', kid: k.kid })
    .setIssuer(own.issuer).setAudience(own.audience).setIssuedAt().setExpirationTime('5m')
    .sign(k.privateKey);
  await own.close();
  assert.equal((await v.verify(token)).subject, `${own.issuer}#agent-ci`);
  assert.equal(await reasonOf(v.verify(unknown)), 'unavailable');
});
