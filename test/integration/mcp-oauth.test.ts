// MCP's OAuth flow against the in-process OpenID provider: the SDK client gets a 401, reads
// the protected-resource metadata, discovers the IdP from it, obtains a client-credentials
// token there (no hand-copied token) and calls the tools with it; the gateway verifies the
// IdP token (issuer, audience) and groups decide access.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, ClientCredentialsProvider, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';

let idp: TestOidcProvider;
let t: TestGateway;

before(async () => {
  // The provider's resource indicator is urn:warden:gateway; its tokens name it in `aud`, as /mcp requires (RFC 8707).
  idp = await startOidcProvider({ audience: 'urn:warden:gateway', serviceClients: [{ clientId: 'ci-agent', clientSecret: 'ci-secret-1234567890', groups: ['ai-agents'] }] });
  t = await startTestGateway({
    connections: [localPostgres('agents-db', { access: { groups: ['ai-agents'] } })],
    auth: { oidc: { issuer: idp.issuer, clientId: idp.cliClientId, audience: idp.audience, scopes: ['warden:access'] } },
    // The provider issues tokens for its resource indicator, so the gateway advertises that one.
    gateway: { mcp: { resource: idp.resource } },
  });
});
after(async () => {
  await t?.close();
  await idp?.close();
});

test('metadata names the IdP; the SDK client logs in by itself and runs a query', async () => {
  const meta = (await (await fetch(`${t.httpUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string; authorization_servers: string[] };
  assert.deepEqual(meta.authorization_servers, [idp.issuer]);
  assert.equal(meta.resource, idp.resource);

  // The resource is a URN, not the /mcp URL, so accept the advertised one explicitly.
  class Provider extends ClientCredentialsProvider {
    async validateResourceURL(_server: string | URL, resource?: string) {
      return resource ? new URL(resource) : undefined;
    }
  }
  const auth = new Provider({ clientId: 'ci-agent', clientSecret: 'ci-secret-1234567890', expectedIssuer: idp.issuer, scope: 'warden:access' });
  const client = new Client({ name: 'oauth-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.httpUrl}/mcp`), { authProvider: auth }));
  try {
    const r = await client.callTool({ name: 'run', arguments: { connection: 'agents-db', sql: 'SELECT 40 + 2 AS answer' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.deepEqual((r.structuredContent as { rows: string[][] }).rows, [['42']]);
  } finally {
    await client.close();
  }
});
