// What a pushed pack holds, read as it streams: its commits, each by the id computed here
// from its own bytes (never an id the client states) with its parents. A pack is a header
// ("PACK", version, object count), objects (a type-and-size varint, a base for deltas, zlib
// data) and a SHA-1 trailer. Objects are inflated one by one to find where each ends; only
// commits are kept (small, and capped), everything else is inflated and dropped, so memory
// stays bounded whatever the pack's size. A delta whose base is a commit kept here is applied
// to find the commit it makes; a delta on a base the pack does not hold (a thin pack's base,
// on the remote) cannot be known: it is counted as unresolved, never guessed to be a commit.
import { createHash } from 'node:crypto';
import { createInflate } from 'node:zlib';
import { ByteQueue } from './byte-queue.ts';

export class PackError extends Error {}

const COMMIT = 1, TREE = 2, BLOB = 3, TAG = 4, OFS_DELTA = 6, REF_DELTA = 7;
/** a commit larger than this is not kept (nor a delta making one applied) */
const MAX_COMMIT = 1024 * 1024;
/** commit bytes kept, all together, as bases for deltas */
const MAX_KEPT = 64 * 1024 * 1024;

export interface PackSummary {
  objects: number;
  /** commit id -> its parents, for every commit known in the pack */
  commits: Map<string, string[]>;
  /** deltas whose base the pack does not hold (their type cannot be known here) */
  unresolved: number;
}

export async function scanPack(q: ByteQueue): Promise<PackSummary> {
  const start = q.offset;
  const head = await q.take(12);
  if (head.toString('latin1', 0, 4) !== 'PACK') throw new PackError('the data after the commands is not a pack');
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new PackError(`pack version ${version} is not one git writes`);
  const count = head.readUInt32BE(8);
  const types = new Map<number, number>();
  const kept = new Map<number, Buffer>();
  const byId = new Map<string, number>();
  const commits = new Map<string, string[]>();
  let keptBytes = 0;
  let unresolved = 0;
  const addCommit = (at: number, body: Buffer) => {
    const id = createHash('sha1').update(`commit ${body.length}\0`).update(body).digest('hex');
    commits.set(id, commitParents(body));
    byId.set(id, at);
    if (keptBytes + body.length <= MAX_KEPT) {
      kept.set(at, body);
      keptBytes += body.length;
    }
  };
  for (let i = 0; i < count; i++) {
    const at = q.offset - start;
    let c = (await q.take(1))[0]!;
    const type = (c >> 4) & 7;
    let size = c & 15;
    let shift = 4;
    while (c & 0x80) {
      c = (await q.take(1))[0]!;
      if (shift > 49) throw new PackError('an object size that does not end');
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (type === COMMIT) {
      const body = await inflate(q, size <= MAX_COMMIT, size);
      types.set(at, COMMIT);
      if (body) addCommit(at, body);
      else unresolved++;
    } else if (type === TREE || type === BLOB || type === TAG) {
      await inflate(q, false, size);
      types.set(at, type);
    } else if (type === OFS_DELTA || type === REF_DELTA) {
      let baseAt: number | undefined;
      if (type === OFS_DELTA) {
        c = (await q.take(1))[0]!;
        let off = c & 0x7f;
        while (c & 0x80) {
          c = (await q.take(1))[0]!;
          off = (off + 1) * 128 + (c & 0x7f);
        }
        baseAt = at - off;
        if (baseAt < 0 || !types.has(baseAt)) throw new PackError('a delta names a base that is not an object of the pack');
      } else {
        baseAt = byId.get((await q.take(20)).toString('hex'));
      }
      const baseType = baseAt === undefined ? 0 : types.get(baseAt)!;
      const base = baseType === COMMIT && baseAt !== undefined ? kept.get(baseAt) : undefined;
      const delta = await inflate(q, base !== undefined && size <= MAX_COMMIT * 2, size);
      types.set(at, baseType);
      if (baseType === 0) unresolved++;
      else if (baseType === COMMIT) {
        const body = base && delta ? applyDelta(base, delta) : null;
        if (body && body.length <= MAX_COMMIT) addCommit(at, body);
        else unresolved++;
      }
    } else throw new PackError(`object type ${type} is not one a pack holds`);
  }
  await q.take(20);
  if (!(await q.atEnd())) throw new PackError('bytes follow the pack\'s trailer');
  return { objects: count, commits, unresolved };
}

/** Inflates one zlib stream from the queue, giving back what follows it; the output when `keep`. */
async function inflate(q: ByteQueue, keep: boolean, size: number): Promise<Buffer | null> {
  const z = createInflate();
  const out: Buffer[] = [];
  let got = 0;
  z.on('data', (c: Buffer) => {
    got += c.length;
    // more than the header says: a lie, stopped here rather than inflated on
    if (got > size) z.destroy(new Error('more data than its header says'));
    else if (keep) out.push(c);
  });
  // an error may come instead of the write's callback: whichever comes first settles
  const failed = new Promise<never>((_ok, ko) => z.once('error', ko));
  const ended = new Promise<void>((ok) => z.once('end', ok));
  failed.catch(() => {});
  try {
    for (;;) {
      const chunk = await q.some();
      const before = z.bytesWritten;
      await Promise.race([new Promise<void>((ok) => z.write(chunk, () => ok())), failed]);
      const used = z.bytesWritten - before;
      if (used < chunk.length) {
        q.unshift(chunk.subarray(used));
        break;
      }
    }
    await Promise.race([ended, failed]);
  } catch (e) {
    throw new PackError(`an object's data cannot be inflated: ${(e as Error).message}`);
  } finally {
    z.destroy();
  }
  if (got !== size) throw new PackError(`an object inflates to ${got} bytes, not the ${size} its header says`);
  return keep ? Buffer.concat(out) : null;
}

function commitParents(body: Buffer): string[] {
  const parents: string[] = [];
  // headers end at the first empty line; parents follow the tree line
  for (const line of body.toString('latin1', 0, Math.min(body.length, 64 * 1024)).split('\n')) {
    if (line === '') break;
    const m = /^parent ([0-9a-f]{40})$/.exec(line);
    if (m) parents.push(m[1]!);
  }
  return parents;
}

/** git's delta format: source and result sizes, then copy (from the base) and insert instructions. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer | null {
  let p = 0;
  const varint = () => {
    let v = 0, shift = 0, c;
    do {
      c = delta[p++];
      if (c === undefined) return -1;
      v += (c & 0x7f) * 2 ** shift;
      shift += 7;
    } while (c & 0x80);
    return v;
  };
  if (varint() !== base.length) return null;
  const size = varint();
  if (size < 0 || size > MAX_COMMIT) return null;
  const out = Buffer.alloc(size);
  let o = 0;
  while (p < delta.length) {
    const op = delta[p++]!;
    if (op & 0x80) {
      let off = 0, len = 0;
      for (let b = 0; b < 4; b++) if (op & (1 << b)) off += delta[p++]! * 2 ** (8 * b);
      for (let b = 0; b < 3; b++) if (op & (1 << (4 + b))) len += delta[p++]! * 2 ** (8 * b);
      if (len === 0) len = 0x10000;
      if (off + len > base.length || o + len > size) return null;
      base.copy(out, o, off, off + len);
      o += len;
    } else if (op > 0) {
      if (p + op > delta.length || o + op > size) return null;
      delta.copy(out, o, p, p + op);
      p += op;
      o += op;
    } else return null;
  }
  return o === size ? out : null;
}
