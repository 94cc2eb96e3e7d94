// What the record keeps of an HTTP exchange besides its command line: the headers, with the
// ones that carry credentials redacted, and the first bytes of each body (the response's as
// the client got it, masked; the request's masked before it is kept).
import type { IncomingHttpHeaders } from 'node:http';

/** Headers whose values are credentials (the caller's token, the injected key, cookies). */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie', 'x-amz-security-token']);

export function redactedHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k] = SECRET_HEADERS.has(k) ? '[REDACTED]' : Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** The first `max` bytes of a body; the rest is counted, not kept. */
export class BodySample {
  private readonly parts: Buffer[] = [];
  private kept = 0;
  /** bytes the body had */
  size = 0;

  constructor(private readonly max: number) {}

  add(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.size += b.length;
    if (this.kept >= this.max) return;
    const part = b.length > this.max - this.kept ? b.subarray(0, this.max - this.kept) : b;
    this.parts.push(Buffer.from(part));
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  /** as text (a character cut at the cap shows as U+FFFD) */
  text(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}
