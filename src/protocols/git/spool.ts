// A request body kept in a temporary file while it is judged: a push must be read whole
// (its pack says whether it rewrites history) before any of it may reach the remote, and
// packs can be large, so they go to disk, not memory. The file holds the bytes as they came
// (sent on unchanged); `decoded()` reads them back as git wrote them (a gzip body unpacked).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { pipeline as pipelineCb, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export class SpoolError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface Spooled {
  size: number;
  /** the body as the client sent it */
  raw(): Readable;
  /** the body as git wrote it */
  decoded(): Readable;
  remove(): Promise<void>;
}

export async function spool(body: Readable, dir: string, encoding: string | undefined, maxBytes: number): Promise<Spooled> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity' && enc !== 'gzip' && enc !== 'x-gzip') throw new SpoolError(`a request body encoded with "${enc}" cannot be read to judge it`, 415);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${randomUUID()}.body`);
  let seen = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _e, done) {
      seen += chunk.length;
      if (seen > maxBytes) done(new SpoolError(`the request body is over the connection's ${maxBytes} bytes (maxPushBytes)`, 413));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(body, cap, createWriteStream(path, { mode: 0o600 }));
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
  const size = (await stat(path)).size;
  return {
    size,
    raw: () => createReadStream(path),
    decoded: () => {
      const file = createReadStream(path);
      if (enc === 'identity') return file;
      const gunzip = createGunzip();
      // one pipeline: destroying what the reader holds closes the file too
      pipelineCb(file, gunzip, () => {});
      return gunzip;
    },
    remove: () => rm(path, { force: true }),
  };
}
