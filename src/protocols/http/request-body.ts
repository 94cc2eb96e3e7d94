// Reading a request's JSON body before it leaves, for what must be judged on it (rules over
// body fields; budgets over `model` and `max_tokens`). The bytes read are sent on unchanged;
// nothing is re-serialized. What cannot be read the way the target will read it is opaque,
// never a body without the field: compressed (content-encoding), larger than the cap, not
// UTF-8 JSON, or with a key twice in one object (targets disagree about which one counts).
//
//   const body = await readJsonBody(req, 1 << 20);
//   if (body.opaque) ...judge as unknown...; else use body.json (undefined: no body)
//   then send body.bytes, and when !body.complete pipe the rest of req after them.
import type { IncomingMessage } from 'node:http';
import { duplicateKey } from './json-keys.ts';

export interface RequestBody {
  /** the bytes taken off the request, to be sent on first and unchanged */
  bytes: Buffer;
  /** true when `bytes` is the whole body (the request has ended); else the rest is still in the request */
  complete: boolean;
  /** the parsed body; undefined when there is none (no bytes) or it is opaque */
  json?: unknown;
  /** why the body cannot be judged; undefined when it can */
  opaque?: string;
}

const EMPTY = Buffer.alloc(0);

/** Reads at most `cap` bytes of `req`'s body; the stream is left paused when more remain. */
export async function readJsonBody(req: IncomingMessage, cap: number): Promise<RequestBody> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > cap) return { bytes: EMPTY, complete: false, opaque: `it is larger (${declared} bytes) than the ${cap} bytes read for judging` };
  // read even when it cannot be judged: the bytes still tell one request from another
  const { bytes, complete } = await take(req, cap);
  if (!complete) return { bytes, complete, opaque: `it is larger than the ${cap} bytes read for judging` };
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') return { bytes, complete, opaque: `it is compressed (content-encoding: ${encoding})` };
  if (bytes.length === 0) return { bytes, complete };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { bytes, complete, opaque: 'it is not UTF-8 text' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { bytes, complete, opaque: 'it is not JSON' };
  }
  const twice = duplicateKey(text);
  if (twice !== null) return { bytes, complete, opaque: `the key "${twice}" appears twice in one object` };
  return { bytes, complete, json };
}

/** Up to cap + 1 bytes: whole when the request ends first, else paused with the rest in it. */
function take(req: IncomingMessage, cap: number): Promise<{ bytes: Buffer; complete: boolean }> {
  if (req.readableEnded) return Promise.resolve({ bytes: EMPTY, complete: true });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (complete: boolean) => {
      req.off('data', onData).off('end', onEnd).off('error', reject).off('close', onClose);
      resolve({ bytes: Buffer.concat(chunks, size), complete });
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > cap) {
        req.pause();
        done(false);
      }
    };
    const onEnd = () => done(true);
    const onClose = () => reject(new Error('the client went away while sending the body'));
    req.on('data', onData).once('end', onEnd).once('error', reject).once('close', onClose);
  });
}
