// The OpenAPI description of /api/v1/ssh-keys (src/gateway/ssh-key-routes.ts).
const bearer = [{ bearerAuth: [] }];
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const one = { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/SshKey' } } } };

export const sshKeySchemas = {
  SshKey: {
    type: 'object',
    properties: {
      fingerprint: { type: 'string', description: 'SHA256:<base64>, as ssh-keygen -lf prints it' }, publicKey: { type: 'string' }, comment: { type: 'string' },
      owner: { type: 'object', properties: { kind: { type: 'string' }, subject: { type: 'string' }, name: { type: 'string' } } },
      boundTo: { type: 'string', enum: ['apikey', 'login'], description: 'apikey: the API key\'s current groups, dies with it; login: the groups of the login that registered it, until expiresAt' },
      groups: { type: ['array', 'null'], items: { type: 'string' } },
      createdAt: { type: 'string', format: 'date-time' }, expiresAt: { type: ['string', 'null'], format: 'date-time' },
    },
  },
};

export const sshKeyPaths = {
  '/api/v1/ssh-keys': {
    post: {
      summary: 'Register an SSH public key to the caller (ssh -i logins at the SSH door)',
      security: bearer,
      requestBody: { content: { 'application/json': { schema: { type: 'object', required: ['publicKey'], properties: { publicKey: { type: 'string', description: 'the line of a .pub file' }, ttl: { type: 'string', description: 'e.g. 7d; default 30d for people (at most 90d), none for API keys' } } } } } },
      responses: { 201: one, 400: err, 401: err, 409: err },
    },
    get: {
      summary: 'The caller\'s registered SSH keys (all, with ?all=true, for admins)',
      security: bearer,
      parameters: [{ name: 'all', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] } }],
      responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/SshKey' } } } } }, 401: err, 403: err },
    },
  },
  '/api/v1/ssh-keys/{fingerprint}': {
    delete: {
      summary: 'Remove a registered SSH key (the caller\'s own; admins any); sessions logged in with it end',
      security: bearer,
      parameters: [{ name: 'fingerprint', in: 'path', required: true, schema: { type: 'string' }, description: 'SHA256:... (URL-encoded) or without the prefix' }],
      responses: { 200: { description: 'Removed', content: { 'application/json': { schema: { type: 'object', properties: { removed: { type: 'string' } } } } } }, 401: err, 404: err },
    },
  },
};
