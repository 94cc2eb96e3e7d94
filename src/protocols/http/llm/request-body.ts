// The JSON body of an LLM request on a budgeted connection, read whole before it leaves so
// the budget knows its model and max_tokens; the bytes are then sent upstream as they came.
// What judging already read (../request-body.ts, up to judgeBodyBytes) is used, and the rest
// read after it. A budgeted connection refuses what it cannot read the way the target will
// (fail closed): too big, compressed, not UTF-8 JSON, a key twice in one object (which
// `max_tokens` would the target take?).
import type { IncomingMessage } from 'node:http';
import type { RequestBody } from '../request-body.ts';
import { duplicateKey } from '../json-keys.ts';

export type BodyRead = { ok: true; bytes: Buffer; json: Record<string, unknown> } | { ok: false; status: number; message: string };

export async function readBudgetBody(raw: IncomingMessage, maxBytes: number, prior?: RequestBody): Promise<BodyRead> {
  const encoding = String(raw.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') return { ok: false, status: 415, message: `a request body encoded with "${encoding}" cannot be read to check the budget; send it uncompressed` };
  const type = String(raw.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) return { ok: false, status: 415, message: 'a budgeted LLM request must have a JSON body (content-type: application/json)' };
  if (Number(raw.headers['content-length'] ?? 0) > maxBytes) return tooBig(maxBytes);
  const before = prior?.bytes ?? Buffer.alloc(0);
  const rest = prior?.complete ? Buffer.alloc(0) : await readRest(raw, maxBytes - before.length);
  if (!rest) return tooBig(maxBytes);
  const bytes = rest.length ? Buffer.concat([before, rest]) : before;
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    json = JSON.parse(text);
  } catch {
    return { ok: false, status: 400, message: 'the request body is not UTF-8 JSON' };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { ok: false, status: 400, message: 'the request body must be a JSON object' };
  const twice = duplicateKey(text);
  if (twice !== null) return { ok: false, status: 400, message: `the key "${twice}" appears twice in one object of the request body` };
  return { ok: true, bytes, json: json as Record<string, unknown> };
}

/** The rest of the body, at most `max` bytes; null when there is more (the rest is drained unread). */
function readRest(raw: IncomingMessage, max: number): Promise<Buffer | null> {
  if (raw.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // Read by events, not for-await: leaving a for-await early destroys the socket, and the
  // caller still has to be told why.
  return new Promise<Buffer | null>((resolve, reject) => {
    const got: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= max) return void got.push(c);
      raw.off('data', onData);
      resolve(null);
    };
    raw.on('data', onData);
    raw.once('end', () => resolve(Buffer.concat(got, size)));
    raw.once('error', reject);
    raw.once('close', () => reject(new Error('the client went away while sending the request')));
    // judging may have left it paused with the rest in it
    raw.resume();
  });
}

function tooBig(max: number): BodyRead {
  return { ok: false, status: 413, message: `the request body is larger than budget.maxRequestBytes (${max} bytes)` };
}
