// The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json. Kept by hand
// next to the routes (http-api.ts); a test checks that every route is described.
import { reviewPaths, reviewSchemas } from '../reviews/openapi.ts';
import { sshKeyPaths, sshKeySchemas } from './ssh-keys-openapi.ts';
import { consolePaths } from './console-openapi.ts';

const bearer = [{ bearerAuth: [] }];
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const json = (ref: string, description = 'OK') => ({ description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });

export const openapi = {
  openapi: '3.1.0',
  info: { title: 'Warden gateway API', version: '1' },
  components: {
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An access token: API key, gateway token or IdP access token. Browsers may use the warden_session cookie of /auth/login instead.' } },
    schemas: {
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
      Identity: { type: 'object', properties: { kind: { type: 'string' }, subject: { type: 'string' }, name: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } } } },
      Connection: {
        type: 'object',
        properties: { name: { type: 'string' }, type: { type: 'string' }, description: { type: 'string' }, agent: { type: 'string' }, host: { type: 'string' }, port: { type: 'integer' }, database: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } } },
      },
      Session: {
        type: 'object',
        properties: {
          id: { type: 'string' }, connection: { type: 'string' }, protocol: { type: 'string' }, identityName: { type: 'string' }, clientAddr: { type: 'string' },
          startedAt: { type: 'string', format: 'date-time' }, endedAt: { type: ['string', 'null'], format: 'date-time' }, endReason: { type: ['string', 'null'] }, commands: { type: 'integer' },
        },
      },
      Event: {
        type: 'object',
        properties: { seq: { type: 'integer' }, ts: { type: 'string', format: 'date-time' }, type: { type: 'string' }, sessionId: { type: ['string', 'null'] }, actor: { type: ['string', 'null'] }, data: { type: 'object' }, hash: { type: 'string' } },
      },
      CommandMatch: {
        type: 'object',
        description: 'a command that matched: where the replay (`warden sessions show <id> --play --from <commandId|offset>`) starts',
        properties: {
          seq: { type: 'integer' }, commandId: { type: 'string' }, ts: { type: 'string', format: 'date-time' }, offsetMs: { type: 'integer', description: 'ms from the session start' },
          text: { type: 'string' }, decision: { type: 'string' }, via: { type: 'string' },
        },
      },
      SessionMatches: { allOf: [{ $ref: '#/components/schemas/Session' }, { type: 'object', properties: { matches: { type: 'array', items: { $ref: '#/components/schemas/CommandMatch' }, description: 'only with the command parameter' } } }] },
      SessionDetail: { allOf: [{ $ref: '#/components/schemas/Session' }, { type: 'object', properties: { events: { type: 'array', items: { $ref: '#/components/schemas/Event' } } } }] },
      Token: { type: 'object', properties: { id: { type: 'string' }, token: { type: 'string' }, expiresAt: { type: ['string', 'null'], format: 'date-time' } } },
      TokenGrant: { type: 'object', properties: { access_token: { type: 'string' }, token_type: { type: 'string', enum: ['Bearer'] }, expires_in: { type: 'integer' } } },
      AuthConfig: { type: 'object', properties: { mode: { type: 'string', enum: ['oidc', 'local'] }, issuer: { type: 'string' }, clientId: { type: 'string' }, audience: { type: 'string' }, groupsClaim: { type: 'string' }, scopes: { type: ['array', 'null'], items: { type: 'string' } } } },
      LocalUser: { type: 'object', properties: { name: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } }, createdAt: { type: 'integer' }, disabledAt: { type: ['integer', 'null'] } } },
      VerifyResult: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' }, count: { type: 'integer' }, lastSeq: { type: 'integer' }, problem: { type: 'string' }, brokenSeq: { type: 'integer' },
          kind: { type: 'string', enum: ['changed', 'removed', 'reordered', 'truncated', 'checkpoint', 'head', 'unsigned', 'stale'] },
          heads: { type: 'integer' }, unsignedTail: { type: 'integer', description: 'events after the newest signed head, within gateway.audit.signEvery of it (hash-chained, not yet signed)' },
          newestHead: { type: 'object', properties: { n: { type: 'integer' }, seq: { type: 'integer' }, ts: { type: 'string' }, kind: { type: 'string' } } },
          checkpoints: { type: 'integer' }, keyId: { type: 'string' }, keyPinned: { type: 'boolean' },
        },
      },
      UsageRow: {
        type: 'object',
        properties: {
          day: { type: 'string', format: 'date' }, connection: { type: 'string' }, identity: { type: 'string', description: 'kind:subject' }, identityName: { type: 'string' },
          inputTokens: { type: 'integer' }, outputTokens: { type: 'integer' }, totalTokens: { type: 'integer' }, requests: { type: 'integer' },
          refused: { type: 'integer', description: 'requests refused by a budget' }, reserved: { type: 'integer', description: 'tokens held now by requests in flight' },
        },
      },
      Usage: {
        type: 'object',
        properties: {
          rows: { type: 'array', items: { $ref: '#/components/schemas/UsageRow' } },
          totals: { type: 'object', properties: { inputTokens: { type: 'integer' }, outputTokens: { type: 'integer' }, totalTokens: { type: 'integer' }, requests: { type: 'integer' }, refused: { type: 'integer' } } },
        },
      },
      ...reviewSchemas,
      ...sshKeySchemas,
    },
  },
  paths: {
    '/mcp': {
      post: { summary: 'MCP over Streamable HTTP (JSON-RPC; revisions 2026-07-28 and 2025 as fallback). Bearer token required; 401 carries WWW-Authenticate resource_metadata; a non-loopback Origin not in gateway.mcp.allowedOrigins gets 403', security: bearer, responses: { 200: { description: 'JSON-RPC response (JSON or SSE)' }, 401: err, 403: err } },
    },
    '/.well-known/oauth-protected-resource': {
      get: { summary: 'OAuth 2.0 protected-resource metadata (RFC 9728) of /mcp: the resource and the IdP (auth.oidc.issuer); also at /.well-known/oauth-protected-resource/mcp', responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object', properties: { resource: { type: 'string' }, authorization_servers: { type: 'array', items: { type: 'string' } } } } } } } } },
    },
    '/api/v1/whoami': { get: { summary: 'The caller\'s identity', security: bearer, responses: { 200: json('Identity'), 401: err } } },
    '/api/v1/connections': { get: { summary: 'Connections the caller may use (all for admins)', security: bearer, responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Connection' } } } } }, 401: err } } },
    '/api/v1/usage': {
      get: {
        summary: 'LLM token usage per UTC day, connection and identity (auditors and admins see everyone; others their own)',
        security: bearer,
        parameters: [
          { name: 'since', in: 'query', schema: { type: 'string' }, description: 'first day, YYYY-MM-DD, or a number of days back including today (7d)' },
          { name: 'until', in: 'query', schema: { type: 'string' }, description: 'last day, YYYY-MM-DD' },
          { name: 'connection', in: 'query', schema: { type: 'string' } },
          { name: 'identity', in: 'query', schema: { type: 'string' }, description: 'identity name or kind:subject' },
        ],
        responses: { 200: json('Usage'), 400: err, 401: err },
      },
    },
    '/api/v1/sessions': {
      get: {
        summary: 'Recorded sessions, newest first; with `command`, the sessions that ran a matching command (admin, auditor)',
        security: bearer,
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          { name: 'connection', in: 'query', schema: { type: 'string' } },
          {
            name: 'command', in: 'query', schema: { type: 'string', minLength: 1 },
            description: 'a `commands:` rule glob over the whole command text (SQL statement, `METHOD /path` of an HTTP request, SSH exec command or shell line): `*` matches any text, every other character itself (`%` and `_` too), case-sensitive; a shell command given by its path also matches by its base name. Each session then carries `matches`, newest first, and a page reads a bounded number of commands: follow the x-next-before header until it is absent.',
          },
          { name: 'before', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'with command: continue a search below this event number (the x-next-before of the previous page)' },
          { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'with command: only sessions started at or after this time' },
        ],
        responses: {
          200: {
            description: 'OK. With command, a session may show again on a later page, with older matches.',
            headers: { 'x-next-before': { description: 'with command: more to search; pass it as `before` for the next page', schema: { type: 'integer' } } },
            content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/SessionMatches' } } } },
          },
          400: err, 401: err, 403: err,
        },
      },
    },
    '/api/v1/sessions/{id}': {
      get: { summary: 'One session with every event in order: the replay (admin, auditor)', security: bearer, parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: json('SessionDetail'), 401: err, 403: err, 404: err } },
    },
    '/api/v1/sessions/{id}/events/{seq}/reveal': {
      post: {
        summary: 'Unmasked values of a recorded result, when its connection keeps originals (auditor; audited)',
        security: bearer,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, { name: 'seq', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object', properties: { originals: { type: 'object', description: 'row index -> original values' } } } } } }, 401: err, 403: err, 404: err },
      },
    },
    '/api/v1/agents': {
      get: { summary: 'Remote agents: connected or not, last seen, version, open streams (admin)', security: bearer, responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { type: 'object' } } } } }, 401: err, 403: err } },
    },
    '/api/v1/agents/{name}': {
      delete: { summary: 'Revoke an agent\'s tokens and drop its tunnels (admin)', security: bearer, parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'OK' }, 401: err, 403: err, 404: err } },
    },
    '/api/v1/agents/connect': {
      get: { summary: 'WebSocket upgrade for a remote agent\'s tunnel (Bearer <agent token>)', security: bearer, responses: { 101: { description: 'Switching protocols' }, 401: err, 403: err } },
    },
    '/api/v1/tokens': {
      post: {
        summary: 'Create an access token (admin)',
        security: bearer,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } }, ttl: { type: 'string', description: 'e.g. 1h, 30m, 7d' } } } } } },
        responses: { 201: json('Token', 'Created'), 400: err, 401: err, 403: err },
      },
    },
    '/api/v1/auth/config': { get: { summary: 'Public login parameters (issuer, client id) for `warden login`; never a secret', responses: { 200: json('AuthConfig') } } },
    '/api/v1/auth/token': {
      post: {
        summary: 'Exchange an API key or an IdP client-credentials access token (the bearer) for a short-lived gateway token; it expires no later than the bearer',
        security: bearer,
        requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { ttl: { type: 'string', description: 'e.g. 30m; default auth.gatewayTokenTtl, at most 24h' } } } } } },
        responses: { 200: json('TokenGrant'), 400: err, 401: err, 403: err, 429: err },
      },
    },
    '/api/v1/auth/login': {
      post: {
        summary: 'Local mode: a local user\'s name and password for a gateway token (429: too many failed attempts, or auth.rateLimit.maxLoginsInFlight checks running)',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string' } } } } } },
        responses: { 200: json('TokenGrant'), 400: err, 401: err, 429: err },
      },
    },
    '/api/v1/auth/revoke': {
      post: {
        summary: 'Revoke a gateway token (its holder: {token}; an admin: {jti}); open sessions stop at their next command',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { token: { type: 'string' }, jti: { type: 'string' }, expiresAt: { type: 'integer' } } } } } },
        responses: { 200: { description: 'OK' }, 400: err, 401: err, 403: err },
      },
    },
    '/api/v1/tokens/{id}': { delete: { summary: 'Revoke an API key by id or name (admin)', security: bearer, parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'OK' }, 401: err, 403: err, 404: err } } },
    '/api/v1/users': {
      get: { summary: 'Local users (admin)', security: bearer, responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/LocalUser' } } } } }, 401: err, 403: err } },
      post: {
        summary: 'Create or reset a local user (admin; local mode)',
        security: bearer,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['name', 'password'], properties: { name: { type: 'string' }, password: { type: 'string', minLength: 12 }, groups: { type: 'array', items: { type: 'string' } } } } } } },
        responses: { 201: json('LocalUser', 'Created'), 400: err, 401: err, 403: err },
      },
    },
    '/api/v1/users/{name}': {
      delete: {
        summary: 'Disable a local user and revoke the tokens it logged in with (admin)',
        security: bearer,
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'Disabled', content: { 'application/json': { schema: { type: 'object', properties: { disabled: { type: 'string' } } } } } }, 401: err, 403: err, 404: err },
      },
    },
    '/api/v1/exec': {
      post: {
        summary: 'Run one command on a connection as the caller, through the same pipeline as psql (rules, reviews, recording, masking)',
        description: 'A database connection takes `command` (one SQL statement) and answers with its rows as JSON. An exec connection takes `argv` (the arguments after its program) and, once the command is allowed and recorded, answers 200 with an NDJSON stream: `{"type":"start","session"}`, then `{"type":"stdout"|"stderr","data"}` lines (masked text) as the output comes, then `{"type":"exit","code","signal","durationMs","masked","truncated","error"?}`. `code` is null when a signal ended the command (`signal`) or it did not run or finish (`error`: agent unreachable, program not found, timed out). Closing the connection kills the command. Other keys are refused (a caller never sets the environment, files or working directory).',
        security: bearer,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['connection'], additionalProperties: false, properties: { connection: { type: 'string' }, command: { type: 'string', description: 'SQL, for database connections' }, argv: { type: 'array', maxItems: 1024, items: { type: 'string' }, description: 'exec connections: the arguments after the program, passed as they are (no shell); no NUL, at most 128 KiB in all' } } } } } },
        responses: {
          200: {
            description: 'The result (values as text, masked); for argv, the NDJSON stream of the command',
            content: {
              'application/json': { schema: { type: 'object', properties: { columns: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'integer' } } } }, rows: { type: 'array', items: { type: 'array', items: { type: 'string', nullable: true } } }, rowCount: { type: 'integer' }, truncated: { type: 'boolean' }, command: { type: 'string' } } } },
              'application/x-ndjson': { schema: { type: 'object', required: ['type'], properties: { type: { type: 'string', enum: ['start', 'stdout', 'stderr', 'exit'] }, session: { type: 'string' }, data: { type: 'string' }, code: { type: 'integer', nullable: true }, signal: { type: 'string', nullable: true }, durationMs: { type: 'integer' }, masked: { type: 'boolean' }, truncated: { type: 'boolean' }, error: { type: 'string' } } } },
            },
          },
          202: { description: 'Held for review: nothing ran; approve the review, then run the same command again', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' }, reviewId: { type: 'string' } } } } } },
          400: err, 401: err, 403: err, 408: err, 429: { description: 'Too many failed attempts from the caller\'s address' },
          422: { description: 'The database returned an error', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string', nullable: true }, detail: { type: 'string', nullable: true }, hint: { type: 'string', nullable: true } } } } } },
        },
      },
    },
    '/api/v1/audit/verify': { get: { summary: 'Walk the hash chain and its signed heads (admin, auditor)', security: bearer, responses: { 200: json('VerifyResult'), 401: err, 403: err } } },
    ...reviewPaths,
    ...sshKeyPaths,
    ...consolePaths,
  },
} as const;
