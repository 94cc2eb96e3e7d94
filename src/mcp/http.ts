// MCP over Streamable HTTP at /mcp on the gateway, as an OAuth 2.1 resource server:
//  - `Origin` checked against an allow-list (loopback by default): a browser page on another
//    site cannot drive a local agent's tools (DNS rebinding); a bad Origin gets 403;
//  - a bearer token on every request, verified by the gateway's identity service, and for
//    this resource: an IdP token's `aud` and a gateway token's `aud` must name the MCP
//    resource (a token issued for another API is not passed through to the tools), an API
//    key is the gateway's own credential; none or a bad one gets 401 with
//    `WWW-Authenticate: Bearer resource_metadata=...` (RFC 9728) so an MCP client can find
//    the IdP and log in by itself;
//  - `/.well-known/oauth-protected-resource[/mcp]` names the resource and the IdP.
// The SDK's createMcpHandler serves the 2026-07-28 revision and, as fallback, the 2025
// revisions statelessly; a fresh tool server per request is bound to the caller.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { McpRequestContext } from '@modelcontextprotocol/server';
import type { Identity } from '../identity/types.ts';
import type { AuthOutcome } from '../identity/identity-service.ts';
import type { ReviewDesk } from '../reviews/desk.ts';
import type { QueryCaps } from '../protocols/engine.ts';
import type { InProcessExecutor } from '../gateway/executor.ts';
import type { ExecRunner } from '../protocols/exec/runner.ts';
import type { DescribeQuery } from './tools.ts';
import { bearerToken } from '../identity/bearer.ts';

// types only: the SDK itself loads at the first request (mountMcp)
type McpHandler = ReturnType<typeof import('@modelcontextprotocol/server').createMcpHandler>;
type ToWebRequest = typeof import('@modelcontextprotocol/node').toWebRequest;

export interface McpHttpDeps {
  /** the identity check; `audience`: the token must be for this resource (RFC 8707) */
  authenticate(token: string, clientAddr: string, audience: string): Promise<AuthOutcome>;
  connections(who: Identity): Record<string, unknown>[];
  desk: ReviewDesk;
  /** the tools' only way to a target: the pipeline in-process, as the caller */
  executor: InProcessExecutor;
  runner: ExecRunner;
  /** the catalogue query of a connection's engine (null: no such connection) */
  describe: DescribeQuery;
  /** the gateway's public base URL (for the resource identifier and metadata URL) */
  baseUrl(): string;
  /** `auth.oidc.issuer`, when an IdP is configured */
  issuer: string | null;
  scopes: string[] | null;
  /** `gateway.mcp.resource`: the resource identifier tokens are issued for (default <base>/mcp) */
  resource: string | null;
  /** extra allowed Origins (full origins or hostnames); loopback is always allowed */
  allowedOrigins: string[];
  caps: QueryCaps;
  /** annotations of the run tool for this caller, derived from its rules */
  hints(who: Identity): { readOnly: boolean; destructive: boolean };
  version: string;
  log: Logger;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const METADATA_PATH = '/.well-known/oauth-protected-resource';

export function originAllowed(origin: string | undefined, allowed: string[]): boolean {
  if (origin === undefined) return true; // not a browser: nothing to rebind
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return LOOPBACK.has(url.hostname) || allowed.includes(url.origin) || allowed.includes(url.hostname);
}

export function mountMcp(app: FastifyInstance, deps: McpHttpDeps): { close(): Promise<void> } {
  const resource = () => deps.resource ?? `${deps.baseUrl()}/mcp`;
  const metadataUrl = () => `${deps.baseUrl()}${METADATA_PATH}/mcp`;

  // The SDK and the tools (with zod) load at the first MCP request, not at start: ~14 MB
  // of a gateway's resident memory that serves no agent (bench:pg-large's start RSS).
  let loaded: Promise<{ handler: McpHandler; toWebRequest: ToWebRequest }> | null = null;
  const load = () =>
    (loaded ??= Promise.all([import('@modelcontextprotocol/server'), import('@modelcontextprotocol/node'), import('./tools.ts')]).then(([sdk, node, tools]) => ({
      toWebRequest: node.toWebRequest,
      handler: sdk.createMcpHandler((ctx: McpRequestContext) => {
        const who = ctx.authInfo?.extra?.identity as Identity | undefined;
        if (!who || !ctx.authInfo) throw new Error('unauthenticated MCP request reached the tools');
        const clientAddr = (ctx.authInfo.extra?.clientAddr as string | undefined) ?? '';
        return tools.buildMcpServer({ identity: who, sessionKey: ctx.authInfo.token, clientAddr, executor: deps.executor, runner: deps.runner, describe: deps.describe, desk: deps.desk, connections: deps.connections, caps: deps.caps, hints: deps.hints(who) }, { name: 'warden', version: deps.version });
      }, { onerror: (e) => deps.log.debug({ err: e.message }, 'mcp request refused') }),
    })));

  const metadata = async () => ({
    resource: resource(),
    authorization_servers: deps.issuer ? [deps.issuer] : [],
    bearer_methods_supported: ['header'],
    ...(deps.scopes?.length ? { scopes_supported: deps.scopes } : {}),
    resource_name: 'Warden MCP',
  });
  app.get(METADATA_PATH, metadata);
  app.get(`${METADATA_PATH}/mcp`, metadata);

  const challenge = (reply: FastifyReply, error: string, description: string) =>
    reply
      .status(401)
      .header('www-authenticate', `Bearer resource_metadata="${metadataUrl()}"${error ? `, error="${error}", error_description="${description}"` : ''}`)
      .send({ error: description });

  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: '/mcp',
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      if (!originAllowed(req.headers.origin, deps.allowedOrigins)) return reply.status(403).send({ error: `Origin ${req.headers.origin} is not allowed (gateway.mcp.allowedOrigins)` });
      const token = bearerToken(req.headers.authorization);
      if (!token) return challenge(reply, '', 'a bearer token is required');
      const o = await deps.authenticate(token, req.ip, resource());
      if (!o.ok && o.reason === 'rate_limited') return reply.status(429).send({ error: 'too many failed attempts; try again later' });
      if (!o.ok) return challenge(reply, 'invalid_token', 'the token is invalid or expired');
      const authInfo = { token, clientId: o.identity.name, scopes: [], extra: { identity: o.identity, clientAddr: `${req.ip}:${req.socket.remotePort ?? 0}` } };
      const ac = new AbortController();
      reply.raw.on('close', () => ac.abort());
      const { handler, toWebRequest } = await load();
      const res = await handler.fetch(await toWebRequest(req.raw, req.body, { signal: ac.signal }), { authInfo, parsedBody: req.body });
      reply.status(res.status).headers(Object.fromEntries(res.headers));
      return reply.send(res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) : null);
    },
  });

  return {
    close: async () => {
      if (loaded) await (await loaded).handler.close();
    },
  };
}
