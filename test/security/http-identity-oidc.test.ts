// Identity over HTTP with a real in-process IdP, attacked by a caller who holds an ordinary
// token: an open redirect through the login's returnTo; a token exchange that would outlive
// its source; an IdP user who shares a local user's or an API key's name, or claims an
// email the IdP never verified; an IdP token for another API, or the browser session's
// token, presented at /mcp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { rawConnect } from '../helpers/raw-pg.ts';

const MCP_RESOURCE = 'https://warden.test/mcp';
let idp: TestOidcProvider;
let t: TestGateway;

before(async () => {
  idp = await startOidcProvider({ accessTokenTtlSec: 120 });
  t = await startTestGateway({
    connections: [
      localPostgres('by-name', { access: { groups: [], users: ['bob'] } }),
      localPostgres('by-idp-subject', { access: { groups: [], users: [`${idp.issuer}#bob`] } }),
      localPostgres('by-email', { access: { groups: [], users: ['carol@example.test'] } }),
      localPostgres('agents-db', { access: { groups: ['ai-agents'] } }),
    ],
    auth: { oidc: { issuer: idp.issuer, clientId: idp.cliClientId, audience: idp.audience }, secureCookie: false },
    gateway: { mcp: { resource: MCP_RESOURCE } },
  });
});
after(async () => {
  await t?.close();
  await idp?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number; aud?: unknown };
const idpToken = (claims: Record<string, unknown>) =>
  idp.signWithProviderKey({ iss: idp.issuer, aud: idp.audience, iat: now(), exp: now() + 300, jti: randomBytes(8).toString('hex'), groups: [], ...claims });

async function admitted(connection: string, token: string): Promise<boolean> {
  try {
    (await rawConnect(t.pgPort, connection, token)).close();
    return true;
  } catch (e) {
    assert.match((e as Error).message, /not allowed to use connection|revoked/);
    return false;
  }
}

async function exchange(credential: string, ttl?: string): Promise<{ access_token: string; expires_in: number }> {
  const res = await fetch(`${t.httpUrl}/api/v1/auth/token`, { method: 'POST', headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' }, body: JSON.stringify(ttl ? { ttl } : {}) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { access_token: string; expires_in: number };
}

test('the login\'s returnTo: a way off the gateway is refused at the door, a path on it is kept', async () => {
  const start = (q: string) => fetch(`${t.httpUrl}/auth/login?returnTo=${q}`, { redirect: 'manual' });
  for (const q of ['/%09/evil.com', '//evil.com', '/%5Cevil.com', '%5C%5Cevil.com', 'https:evil.com', 'https://evil.com', '/.//evil.com', '/%0A/evil.com']) {
    const res = await start(q);
    assert.equal(res.status, 400, `returnTo=${q} was accepted`);
    assert.match(((await res.json()) as { error: string }).error, /returnTo/);
  }
  const ok = await start('/ui/sessions');
  assert.equal(ok.status, 302);
  assert.ok(ok.headers.get('location')!.startsWith(idp.issuer));
});

test('an exchanged token never outlives its source: an API key\'s expiry, an IdP token\'s exp', async () => {
  const key = await t.gw.services.createToken({ name: 'short-key', groups: ['ai-agents'], ttlMs: 60_000 }, 'test');
  const fromKey = await exchange(key.token, '1h');
  assert.ok(fromKey.expires_in <= 60, `expires in ${fromKey.expires_in} s; the key in 60`);
  assert.ok(claimsOf(fromKey.access_token).exp * 1000 <= key.expiresAt!);

  const cc = await idp.clientCredentialsToken();
  const fromIdp = await exchange(cc);
  assert.ok(fromIdp.expires_in <= 120, `expires in ${fromIdp.expires_in} s; the IdP token in 120`);
  assert.ok(claimsOf(fromIdp.access_token).exp <= claimsOf(cc).exp);
});

test('an IdP user named like an API key (and a local user) is another identity: no access by that name, no shared revocation', async () => {
  const apiBob = await t.gw.services.createToken({ name: 'bob', groups: [], ttlMs: null }, 'test');
  await t.gw.services.addUser('bob', 'local-bob-password', [], 'test');
  const idpBob = (await idp.userTokens('bob')).accessToken;

  const whoami = async (tok: string) => (await (await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${tok}` } })).json()) as { subject: string; name: string };
  const [a, b] = [await whoami(apiBob.token), await whoami(idpBob)];
  assert.notEqual(a.subject, b.subject);
  assert.notEqual(a.name, b.name);
  assert.equal(b.subject, `${idp.issuer}#bob`);

  // `users: [bob]` names the API key (and the local user), not whoever the IdP calls bob.
  assert.equal(await admitted('by-name', apiBob.token), true);
  assert.equal(await admitted('by-name', idpBob), false);
  // The IdP user is let in where the config names it by its key.
  assert.equal(await admitted('by-idp-subject', idpBob), true);
  assert.equal(await admitted('by-idp-subject', apiBob.token), false);

  // Disabling the local bob and revoking the API key bob leave the IdP's bob alone.
  assert.equal(await t.gw.services.disableUser('bob', 'test'), true);
  assert.equal(await t.gw.services.revokeToken('bob', 'test'), 1);
  assert.equal(await admitted('by-idp-subject', idpBob), true);
});

test('an email counts only when the IdP verified it', async () => {
  const unverified = await idpToken({ sub: 'mallory', email: 'carol@example.test', email_verified: false });
  const claimedOnly = await idpToken({ sub: 'mallory', email: 'carol@example.test' });
  const verified = await idpToken({ sub: 'carol', email: 'carol@example.test', email_verified: true });
  assert.equal(await admitted('by-email', unverified), false);
  assert.equal(await admitted('by-email', claimedOnly), false);
  assert.equal(await admitted('by-email', verified), true);
  // Nor does a preferred_username make anyone "bob".
  assert.equal(await admitted('by-name', await idpToken({ sub: 'mallory', preferred_username: 'bob', name: 'bob' })), false);
});

async function mcpStatus(token: string): Promise<number> {
  const res = await fetch(`${t.httpUrl}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'aud-test', version: '1' } } }),
  });
  await res.body?.cancel();
  return res.status;
}

test('/mcp takes only tokens for the MCP resource: an IdP token for the API is refused, one for the resource accepted', async () => {
  const forApi = (await idp.userTokens('bob')).accessToken; // aud: the gateway's API audience
  assert.equal(await mcpStatus(forApi), 401);
  // The same token is good at the API it was issued for.
  assert.equal((await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${forApi}` } })).status, 200);
  const forMcp = await idpToken({ sub: 'bob', aud: [MCP_RESOURCE], groups: ['ai-agents'] });
  assert.equal(await mcpStatus(forMcp), 200);
  const forBoth = await idpToken({ sub: 'bob', aud: [idp.audience, MCP_RESOURCE] });
  assert.equal(await mcpStatus(forBoth), 200);
});

test('/mcp and gateway tokens: an exchanged token names the MCP resource and is accepted; the browser session\'s token is not', async () => {
  const key = await t.gw.services.createToken({ name: 'mcp-agent', groups: ['ai-agents'], ttlMs: null }, 'test');
  assert.equal(await mcpStatus(key.token), 200, 'an API key is the gateway\'s own credential');
  const exchanged = await exchange(key.token);
  assert.deepEqual(claimsOf(exchanged.access_token).aud, ['urn:warden:gateway', MCP_RESOURCE]);
  assert.equal(await mcpStatus(exchanged.access_token), 200);

  const who = (await t.gw.services.identity.resolve(key.token));
  const browser = await t.gw.services.issueForLogin(who, { clientAddr: '127.0.0.1', frontDoor: 'http' }, 'test');
  assert.deepEqual(claimsOf(browser.token).aud, ['urn:warden:gateway']);
  assert.equal(await mcpStatus(browser.token), 401);
  assert.equal((await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${browser.token}` } })).status, 200);
});
