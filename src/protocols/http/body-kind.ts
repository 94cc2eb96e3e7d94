// What a response body is, for a connection that masks: text to mask, binary to pass, or a
// body Warden cannot read and so refuses. The label alone is not trusted: a caller with a
// token can ask the target for the same data in another form (`Accept: application/octet-
// stream`, `?format=csv`, `?alt=media`, no content-type at all), and a target labels what it
// likes. So the rule reads the first bytes:
//   - a body that reads as UTF-8 text is masked as text, whatever its label says;
//   - only a body that proves binary early (a byte sequence that is not UTF-8 in its first
//     bytes) passes unmasked, and only under a label that is not text;
//   - text Warden cannot read is refused: a charset it does not decode (UTF-16, Shift_JIS, ...),
//     a byte-order mark, text between NUL bytes (UTF-16/32 of ASCII looks like UTF-8 with a NUL
//     every other byte, and an archive of text files like tar is text between NULs);
//   - a body labelled text whose bytes are not UTF-8 is masked as UTF-8, the bytes that are
//     not reaching the client as U+FFFD (nothing unread goes out), unless its charset is a
//     one-byte one (ISO-8859-*, windows-125*), which is read byte for byte.
// Only the first SNIFF_BYTES of a body not labelled text are looked at; a body labelled text is
// decided by its label (its charset), so a stream of events is not delayed, and the engine ends
// it at a NUL byte. Nothing is buffered beyond that.
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';

/** How much of a body not labelled text is read before deciding. */
export const SNIFF_BYTES = 1024;

export type BodyKind =
  | { kind: 'text'; charset: 'utf8' | 'latin1' }
  | { kind: 'binary' }
  /** nothing came: nothing to read */
  | { kind: 'empty' }
  | { kind: 'refuse'; reason: string };

export const TEXTUAL = /^(application\/(json|[\w.+-]*\+json|x-ndjson|xml|[\w.+-]*\+xml|javascript|x-www-form-urlencoded|csv|yaml|x-yaml)|text\/)/i;

const UTF8 = /^(utf-?8|us-ascii|ascii)$/i;
const ONE_BYTE = /^(iso[-_]?8859-\d+|latin-?1|windows-125\d|cp125\d|l1)$/i;

/** Does the label call the body text (so the first chunk is enough to decide)? */
export function labelledText(contentType: string | undefined): boolean {
  return TEXTUAL.test(contentType ?? '');
}

export function bodyKind(contentType: string | undefined, sample: Buffer, complete: boolean): BodyKind {
  const label = contentType ?? '';
  const textual = TEXTUAL.test(label);
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(label)?.[1];
  if (charset && !UTF8.test(charset) && !ONE_BYTE.test(charset)) return { kind: 'refuse', reason: `its charset "${charset}" is not one Warden reads to mask` };
  if (sample.length === 0 && complete) return { kind: 'empty' };
  if (bom(sample)) return { kind: 'refuse', reason: 'it starts with a UTF-16/32 byte-order mark, text Warden cannot read to mask' };
  const readAs: 'utf8' | 'latin1' = charset && ONE_BYTE.test(charset) ? 'latin1' : 'utf8';
  const valid = readAs === 'latin1' || validUtf8(sample, complete);
  if (sample.includes(0)) {
    if (textual || valid || wide(sample)) return { kind: 'refuse', reason: 'it holds text between NUL bytes (UTF-16/32, or an archive of text), which Warden cannot read to mask' };
    return { kind: 'binary' };
  }
  if (textual || valid) return { kind: 'text', charset: readAs };
  return { kind: 'binary' };
}

function bom(b: Buffer): boolean {
  return (b[0] === 0xfe && b[1] === 0xff) || (b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff);
}

/** UTF-8 throughout; a character cut by the end of an incomplete sample is looked at without its cut tail. */
export function validUtf8(b: Buffer, complete: boolean): boolean {
  if (isUtf8(b)) return true;
  if (complete) return false;
  for (let k = 1; k <= 3 && k <= b.length; k++) {
    const c = b[b.length - k]!;
    if ((c & 0xc0) === 0x80) continue;
    // the lead byte of the cut character: it must announce more bytes than came
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > k && isUtf8(b.subarray(0, b.length - k));
  }
  return false;
}

/**
 * UTF-16 text: a NUL in at least a quarter of the even (or odd) bytes, and read that way (big- or
 * little-endian) nine code units in ten are printable, so an executable full of NULs is not text.
 */
function wide(b: Buffer): boolean {
  if (b.length < 8) return false;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0) continue;
    if (i % 2) odd++;
    else even++;
  }
  const quarter = b.length / 8;
  return (even >= quarter && printable(b, 'be')) || (odd >= quarter && printable(b, 'le'));
}

function printable(b: Buffer, order: 'be' | 'le'): boolean {
  let ok = 0;
  const units = b.length >> 1;
  for (let i = 0; i < units; i++) {
    const u = order === 'le' ? b.readUInt16LE(2 * i) : b.readUInt16BE(2 * i);
    if (u === 9 || u === 10 || u === 13 || (u >= 0x20 && u !== 0x7f && (u < 0x80 || u > 0x9f) && u !== 0xfffd)) ok++;
  }
  return ok >= units * 0.9;
}

/**
 * The first bytes of a body: chunks until `n` bytes came or the body ended. The body is left
 * paused (resume it, or pipe it, to go on); nothing past the chunk that reached `n` is read.
 */
export function readHead(body: Readable, n: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size < n) return;
      body.pause();
      cleanup();
      resolve({ chunks, ended: false });
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, ended: true });
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}
