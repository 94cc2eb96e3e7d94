// The OpenAPI description of the console's routes (src/gateway/console.ts, console-auth.ts).
const bearer = [{ bearerAuth: [] }];
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const ok = (schema: Record<string, unknown>) => ({ description: 'OK', content: { 'application/json': { schema } } });
const path = (name: string, type = 'string') => ({ name, in: 'path', required: true, schema: { type } });
const query = (name: string, description: string) => ({ name, in: 'query', required: false, schema: { type: 'string' }, description });

export const consolePaths = {
  '/auth/session': {
    post: {
      summary: 'Log in to the web console: an API key, or a local user\'s name and password, for an HttpOnly SameSite=Strict session cookie (needs the X-Warden-Console header; same origin only)',
      requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { token: { type: 'string' }, username: { type: 'string' }, password: { type: 'string' } } } } } },
      responses: { 200: ok({ type: 'object', properties: { ok: { type: 'boolean' }, expiresIn: { type: 'integer' } } }), 400: err, 401: err, 403: err, 429: err },
    },
  },
  '/api/v1/console/events': {
    get: { summary: 'Server-Sent Events: `review` events naming each review the caller may see that changed', security: bearer, responses: { 200: { description: 'text/event-stream' }, 401: err } },
  },
  '/api/v1/console/sessions': {
    get: {
      summary: 'Sessions, newest first, filtered and paged by cursor (auditor)',
      security: bearer,
      parameters: [
        query('limit', '1 to 500, default 50'), query('after', 'the `next` cursor of the previous page'), query('identity', 'identity name'), query('connection', 'connection name'),
        query('protocol', 'postgres, mysql, http, ssh, git, exec, mcp'), query('decision', 'allow, block or review: sessions with such a command'),
        query('from', 'started at or after (ISO-8601 or ms)'), query('to', 'started before'), query('command', 'text a command contains (case-insensitive); matchSeq names the first such event'),
      ],
      responses: { 200: ok({ type: 'object', properties: { sessions: { type: 'array', items: { type: 'object' } }, next: { type: ['string', 'null'] } } }), 400: err, 401: err, 403: err },
    },
  },
  '/api/v1/console/sessions/{id}/events/{seq}/export': {
    get: {
      summary: 'A recorded result as CSV or JSON, masked as recorded, streamed (auditor; audited as result.exported)',
      security: bearer,
      parameters: [path('id'), path('seq', 'integer'), { name: 'format', in: 'query', schema: { type: 'string', enum: ['csv', 'json'] } }],
      responses: { 200: { description: 'text/csv or application/json attachment' }, 400: err, 401: err, 403: err, 404: err },
    },
  },
  '/api/v1/console/sessions/{id}/end': {
    post: { summary: 'End a live session on this gateway: recorded, its client connection closed (Postgres FATAL 57P01, MySQL an error first) and any later command refused (admin; audited as session.terminated)', security: bearer, parameters: [path('id')], responses: { 200: ok({ type: 'object' }), 401: err, 403: err, 404: err } },
  },
  '/api/v1/console/audit': {
    get: { summary: 'The last audit chain verify this gateway ran (result, when, how long) and how many events were appended since; walks nothing (auditor)', security: bearer, responses: { 200: ok({ type: 'object' }), 401: err, 403: err } },
  },
  '/api/v1/console/audit/verify': {
    post: { summary: 'Walk the audit chain now (one walk shared by concurrent callers) and answer as GET /api/v1/console/audit (auditor)', security: bearer, responses: { 200: ok({ type: 'object' }), 401: err, 403: err } },
  },
  '/api/v1/console/connections': {
    get: { summary: 'Connections the caller may use, with access groups; rules and masking for admins and auditors', security: bearer, responses: { 200: ok({ type: 'object' }), 401: err } },
  },
  '/api/v1/console/tokens': {
    get: { summary: 'Active API tokens without their secret (admin)', security: bearer, responses: { 200: ok({ type: 'array', items: { type: 'object' } }), 401: err, 403: err } },
  },
};
