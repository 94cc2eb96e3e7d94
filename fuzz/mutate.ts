// Mutations of a valid frame sequence, the ways a broken or hostile peer breaks one:
// flipped bits, lying length fields, truncation, spliced garbage, repeated, dropped or
// swapped frames, unknown type bytes, payloads that keep their framing but not their
// fields. Then the stream is cut at random chunk boundaries, as a socket delivers it.
import type { Rng } from './rng.ts';

const TYPES = 'QPBEDCSHXdcfpFRKZTIn123stGHWAvV'.split('').map((c) => c.charCodeAt(0));

function setLength(f: Buffer, r: Rng): Buffer {
  const out = Buffer.from(f.length >= 5 ? f : Buffer.concat([f, Buffer.alloc(5 - f.length)]));
  out.writeInt32BE(r.chance(0.5) ? r.edgeInt(32) : f.length - 1 + r.range(-6, 6), 1);
  return out;
}

/** One mutation of the frame list (frames are whole messages: type, length, payload). */
function mutateOnce(frames: Buffer[], r: Rng): Buffer[] {
  if (frames.length === 0) return [r.bytes(r.small(16))];
  const i = r.int(frames.length);
  const f = frames[i]!;
  const out = frames.slice();
  switch (r.int(11)) {
    case 0: { // flip a bit
      const g = Buffer.from(f);
      const at = r.int(g.length);
      g[at]! ^= 1 << r.int(8);
      out[i] = g;
      break;
    }
    case 1: out[i] = setLength(f, r); break;
    case 2: out[i] = f.subarray(0, r.int(f.length)); break; // truncated frame (the rest shifts)
    case 3: out.splice(i, 0, r.bytes(r.small(12))); break; // garbage between frames
    case 4: out.splice(i, 0, f); break; // duplicated
    case 5: out.splice(i, 1); break; // dropped
    case 6: { // swapped
      const j = r.int(frames.length);
      [out[i], out[j]] = [out[j]!, f];
      break;
    }
    case 7: { // unknown or foreign type byte
      const g = Buffer.from(f);
      g[0] = r.chance(0.5) ? r.int(256) : r.pick(TYPES);
      out[i] = g;
      break;
    }
    case 8: { // same framing, random payload
      const g = Buffer.from(f);
      for (let k = 5; k < g.length; k++) g[k] = r.int(256);
      out[i] = g;
      break;
    }
    case 9: { // a count or length field inside the payload set to an edge value
      if (f.length < 7) break;
      const g = Buffer.from(f);
      const at = r.range(5, g.length - 2);
      if (r.chance(0.5) || at + 4 > g.length) g.writeInt16BE(r.edgeInt(16), at);
      else g.writeInt32BE(r.edgeInt(32), at);
      out[i] = g;
      break;
    }
    default: { // payload grown or shrunk with the length field kept honest
      const extra = r.chance(0.5) ? r.bytes(r.small(8)) : Buffer.alloc(0);
      const body = Buffer.concat([f.subarray(5, Math.max(5, f.length - r.small(4))), extra]);
      const head = Buffer.alloc(5);
      head[0] = f[0] ?? 0x51;
      head.writeInt32BE(body.length + 4, 1);
      out[i] = Buffer.concat([head, body]);
      break;
    }
  }
  return out;
}

export function mutate(frames: Buffer[], r: Rng, times: number): Buffer[] {
  let out = frames;
  for (let k = 0; k < times; k++) out = mutateOnce(out, r);
  return out;
}

/** Cut a stream into chunks: mostly small pieces, sometimes one byte at a time. */
export function chunk(stream: Buffer, r: Rng): Buffer[] {
  const out: Buffer[] = [];
  const style = r.int(4);
  let at = 0;
  while (at < stream.length) {
    const n = style === 0 ? stream.length : style === 1 ? 1 : style === 2 ? r.range(1, 8) : r.range(1, 64);
    out.push(stream.subarray(at, at + n));
    at += n;
  }
  return out;
}
