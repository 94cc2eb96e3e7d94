// What of an HTTP request the policy judges besides its request line: its headers (every
// value of a repeated one; never the caller's token headers, which do not leave), and its
// JSON body when a rule that could apply reads it (request-body.ts). A body that was read
// is also bound into the command as its digest, so an approval given in a review is for
// these bytes and not for another body sent on the same path.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { HttpConnectionConfig } from '../../config/schema.ts';
import type { Identity } from '../../identity/types.ts';
import { CALLER_HEADERS } from '../../policy/http-rule-schema.ts';
import type { HttpRequestFacts } from '../../sql/types.ts';
import { readJsonBody, type RequestBody } from './request-body.ts';

export interface JudgedRequest {
  facts: HttpRequestFacts;
  /** the body read for judging (to be sent first), when it was read */
  body?: RequestBody;
  /** the command's parameters: the digest of the body read */
  params?: string[];
}

export interface RequestScope {
  identity: Identity;
  connection: HttpConnectionConfig;
  method: string;
  /** the normalized path, without the query */
  path: string;
}

export async function judgedFacts(raw: IncomingMessage, scope: RequestScope, readsBody?: (s: RequestScope) => boolean): Promise<JudgedRequest> {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(raw.headersDistinct)) {
    if (values && !CALLER_HEADERS.includes(name)) headers[name] = values;
  }
  if (!readsBody?.(scope)) return { facts: { headers } };
  const body = await readJsonBody(raw, scope.connection.judgeBodyBytes);
  const facts: HttpRequestFacts = { headers, body: body.opaque !== undefined ? { opaque: body.opaque } : body.json === undefined ? { none: true } : { json: body.json } };
  if (body.bytes.length === 0) return { facts, body };
  const digest = createHash('sha256').update(body.bytes).digest('hex');
  return { facts, body, params: [body.complete ? `body sha256:${digest}` : `body sha256:${digest} (first ${body.bytes.length} bytes)`] };
}
