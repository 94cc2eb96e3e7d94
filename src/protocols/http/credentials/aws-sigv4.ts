// AWS Signature Version 4 on each request as it leaves, for S3 and S3-compatible storage.
// Bodies stream, so the payload is not hashed (UNSIGNED-PAYLOAD, which S3 accepts; a request
// with no body gets the real hash of nothing). What is signed is exactly what is sent: the path
// and query are rewritten into the canonical encoding first, so no server re-reads them
// differently. A caller's own signature (headers or presigned query) is dropped before, so
// the target never sees two.
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AwsCredential } from '../../../config/http-credentials.ts';

export interface SignableRequest {
  method: string;
  /** the target URL; its path and query are rewritten into the form that is signed */
  url: URL;
  /** the outgoing headers, `host` already set */
  headers: IncomingHttpHeaders;
}

/** A path that cannot be signed as the caller wrote it (bad percent-encoding). */
export class UnsignablePath extends Error {}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const CALLER_SIGNING_HEADERS = ['authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'];
const PRESIGN_PARAMS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token']);

export function signAws(c: AwsCredential, req: SignableRequest, now = new Date()): void {
  const h = req.headers;
  for (const k of CALLER_SIGNING_HEADERS) delete h[k];
  const s3 = c.service === 's3';

  // The path: each segment decoded and encoded the strict way (RFC 3986 unreserved kept);
  // services other than S3 sign the encoded path encoded once more.
  const segments = req.url.pathname.split('/').map((seg) => {
    try {
      return uriEncode(decodeURIComponent(seg));
    } catch {
      throw new UnsignablePath('the path is not valid percent-encoding, so it cannot be signed');
    }
  });
  const wirePath = segments.join('/');
  const canonicalUri = s3 ? wirePath : segments.map(uriEncode).join('/');

  // The query: pairs decoded (form rules), encoded strictly, sorted by name then value.
  const pairs = [...new URLSearchParams(req.url.search)]
    .filter(([k]) => !PRESIGN_PARAMS.has(k.toLowerCase()))
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const canonicalQuery = pairs.map(([k, v]) => `${k}=${v}`).join('&');
  req.url.pathname = wirePath;
  req.url.search = canonicalQuery ? `?${canonicalQuery}` : '';

  const stamp = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = stamp.slice(0, 8);
  const hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
  const payloadHash = hasBody ? 'UNSIGNED-PAYLOAD' : EMPTY_SHA256;
  h['x-amz-date'] = stamp;
  h['x-amz-content-sha256'] = payloadHash;
  if (c.sessionToken) h['x-amz-security-token'] = c.sessionToken;

  // Signed: host, the content headers S3 checks, and every x-amz-* header (S3 requires those).
  const names = Object.keys(h)
    .filter((k) => k === 'host' || k === 'content-type' || k === 'content-md5' || k.startsWith('x-amz-'))
    .sort();
  const canonicalHeaders = names.map((k) => `${k}:${headerValue(h[k])}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');

  const scope = `${day}/${c.region}/${c.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', signingKey(c, day)).update(toSign).digest('hex');
  h.authorization = `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

/** The day's signing key, derived once a day per credential (four HMACs saved on every request). */
const keys = new WeakMap<AwsCredential, { day: string; key: Buffer }>();
function signingKey(c: AwsCredential, day: string): Buffer {
  const held = keys.get(c);
  if (held?.day === day) return held.key;
  let key = hmac(`AWS4${c.secretAccessKey}`, day);
  for (const part of [c.region, c.service, 'aws4_request']) key = hmac(key, part);
  keys.set(c, { day, key });
  return key;
}

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - . _ ~ as %XX (upper case). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

function headerValue(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
