// The OpenAPI description of the review routes (http-routes.ts), merged into the
// gateway's document (src/gateway/openapi.ts).
const bearer = [{ bearerAuth: [] }];
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const review = { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/Review' } } } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const commentBody = { required: false, content: { 'application/json': { schema: { type: 'object', properties: { comment: { type: 'string' } } } } } };

export const reviewSchemas = {
  Review: {
    type: 'object',
    properties: {
      id: { type: 'string' }, kind: { type: 'string', enum: ['command', 'access'] }, status: { type: 'string', enum: ['pending', 'approved', 'rejected', 'expired', 'used'] },
      connection: { type: 'string' }, command: { type: ['string', 'null'] }, params: { type: ['array', 'null'], items: { type: ['string', 'null'] } },
      commandHash: { type: ['string', 'null'], description: 'sha256 of connection, exact text and parameters' }, reason: { type: 'string' }, rule: { type: ['string', 'null'] },
      requester: { $ref: '#/components/schemas/Identity' }, sessionId: { type: ['string', 'null'] }, groups: { type: 'array', items: { type: 'string' } },
      approvalsNeeded: { type: 'integer' }, approvals: { type: 'integer' },
      votes: { type: 'array', items: { type: 'object', properties: { voter: { type: 'string' }, vote: { type: 'string', enum: ['approve', 'reject'] }, comment: { type: ['string', 'null'] }, at: { type: 'string', format: 'date-time' } } } },
      durationMs: { type: ['integer', 'null'] }, createdAt: { type: 'string', format: 'date-time' }, expiresAt: { type: 'string', format: 'date-time' },
      decidedAt: { type: ['string', 'null'], format: 'date-time' }, usedAt: { type: ['string', 'null'], format: 'date-time' },
    },
  },
} as const;

export const reviewPaths = {
  '/api/v1/reviews': {
    get: {
      summary: 'Reviews the caller may see, newest first (requester, approver groups, approver/auditor/admin roles)',
      security: bearer,
      parameters: [
        { name: 'status', in: 'query', schema: { type: 'string', enum: ['pending', 'approved', 'rejected', 'expired', 'used'] } },
        { name: 'kind', in: 'query', schema: { type: 'string', enum: ['command', 'access'] } },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
      ],
      responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Review' } } } } }, 400: err, 401: err },
    },
  },
  '/api/v1/reviews/{id}': { get: { summary: 'One review with its votes', security: bearer, parameters: [idParam], responses: { 200: review, 401: err, 404: err } } },
  '/api/v1/reviews/{id}/approve': {
    post: { summary: 'Approve (a member of the review\'s groups or an admin; never the requester)', security: bearer, parameters: [idParam], requestBody: commentBody, responses: { 200: review, 401: err, 403: err, 404: err, 409: err } },
  },
  '/api/v1/reviews/{id}/reject': {
    post: { summary: 'Reject (an approver), or withdraw (the requester)', security: bearer, parameters: [idParam], requestBody: commentBody, responses: { 200: review, 401: err, 403: err, 404: err, 409: err } },
  },
  '/api/v1/access-requests': {
    post: {
      summary: 'Ask for time-window access to a connection; approvers approve it as a review',
      security: bearer,
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['connection', 'duration', 'reason'], properties: { connection: { type: 'string' }, duration: { type: 'string', description: 'e.g. 1h (at most reviews.maxAccess)' }, reason: { type: 'string' } } } } } },
      responses: { 201: { ...review, description: 'Created' }, 400: err, 401: err, 404: err },
    },
  },
} as const;
