// The JSON body of an LLM request, read whole before it leaves so a budget can know its
// model and max_tokens; the bytes are then sent upstream exactly as they came. A budgeted
// connection refuses what it cannot read (fail closed): too big, compressed, not JSON.
// (The rules part buffers bodies for matching too; the two are to be one reader.)
import type { IncomingMessage } from 'node:http';

export type BodyRead = { ok: true; bytes: Buffer; json: Record<string, unknown> } | { ok: false; status: number; message: string };

export async function readJsonBody(raw: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  const encoding = String(raw.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') return { ok: false, status: 415, message: `a request body encoded with "${encoding}" cannot be read to check the budget; send it uncompressed` };
  const type = String(raw.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) return { ok: false, status: 415, message: 'a budgeted LLM request must have a JSON body (content-type: application/json)' };
  const declared = Number(raw.headers['content-length'] ?? 0);
  if (declared > maxBytes) return tooBig(maxBytes);
  // Read by events, not for-await: leaving a for-await early destroys the socket, and the
  // caller still has to be told why.
  const parts = await new Promise<Buffer[] | null>((resolve, reject) => {
    const got: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= maxBytes) return void got.push(c);
      raw.off('data', onData);
      raw.resume(); // the rest is drained, unread
      resolve(null);
    };
    raw.on('data', onData);
    raw.once('end', () => resolve(got));
    raw.once('error', reject);
    raw.once('close', () => reject(new Error('the client went away while sending the request')));
  });
  if (!parts) return tooBig(maxBytes);
  const bytes = Buffer.concat(parts);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, status: 400, message: 'the request body is not valid JSON' };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { ok: false, status: 400, message: 'the request body must be a JSON object' };
  return { ok: true, bytes, json: json as Record<string, unknown> };
}

function tooBig(max: number): BodyRead {
  return { ok: false, status: 413, message: `the request body is larger than budget.maxRequestBytes (${max} bytes)` };
}
