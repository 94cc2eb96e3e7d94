// Part 1: the frame codec. Random valid message sequences, mutated or not, cut at random
// chunk boundaries, through the frame splitter (both of its entry points), the message
// decoders and the handshake reader. Properties: nothing but ProtocolError is thrown;
// the splitter never holds more than one frame of the declared maximum; a decoded list
// never has more entries than its frame has bytes; an unmutated stream comes out as the
// frames that went in, and decode(encode(m)) is m.
import { isDeepStrictEqual } from 'node:util';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameSplitter, STALL, type FrameFate } from '../src/protocols/postgres/frames.ts';
import { ProtocolError } from '../src/protocols/postgres/buffers.ts';
import { HandshakeReader } from '../src/protocols/postgres/handshake-reader.ts';
import { decodeBackend, decodeFrontend, decodeStartup, encodeBackend, encodeFrontend, encodeStartup, PROTOCOL_3 } from '../src/protocols/postgres/messages.ts';
import { Rng } from './rng.ts';
import { backendMessage, frontendMessage, str } from './gen-messages.ts';
import { chunk, mutate } from './mutate.ts';

export interface CodecCase {
  part: 'codec';
  seed: number;
  side: 'frontend' | 'backend' | 'startup';
  maxFrame: number;
  /** the stream as it was cut, hex per chunk */
  chunks: string[];
  /** not mutated: the frames must come out as they went in, each re-encoding to itself */
  valid: boolean;
}

/** A failed property: what broke, for the report and the saved case. */
export class Finding extends Error {}

export function genCodecCase(seed: number): { c: CodecCase; roundTrip: () => void } {
  const r = new Rng(seed);
  const side = r.pick(['frontend', 'backend', 'startup'] as const);
  const maxFrame = r.pick([16, 64, 1 << 20]);
  const n = r.range(1, 12);
  const frames: Buffer[] = [];
  const checks: (() => void)[] = [];
  for (let i = 0; i < n; i++) {
    if (side === 'startup') {
      const m = r.chance(0.8)
        ? { type: 'Startup' as const, protocol: PROTOCOL_3, params: Object.fromEntries(Array.from({ length: r.small(3) }, () => [str(r) || 'k', str(r)])) }
        : r.pick([{ type: 'SSLRequest' as const }, { type: 'GSSENCRequest' as const }, { type: 'CancelRequest' as const, pid: r.edgeInt(32), key: r.edgeInt(32) }]);
      const b = encodeStartup(m);
      frames.push(b);
      checks.push(() => same(decodeStartup(b, 4, b.length), m, b));
    } else if (side === 'frontend') {
      const m = frontendMessage(r);
      const b = encodeFrontend(m);
      frames.push(b);
      checks.push(() => same(decodeFrontend(b[0]!, b, 5, b.length), m, b));
    } else {
      const m = backendMessage(r);
      const b = encodeBackend(m);
      frames.push(b);
      checks.push(() => same(decodeBackend(b[0]!, b, 5, b.length), m, b));
    }
  }
  const valid = side !== 'startup' && r.chance(0.25) && frames.every((f) => f.length <= maxFrame + 1);
  const stream = Buffer.concat(valid ? frames : mutate(frames, r, r.range(1, 4)));
  const chunks = chunk(stream, r).map((b) => b.toString('hex'));
  return { c: { part: 'codec', seed, side, maxFrame, chunks, valid }, roundTrip: () => checks.forEach((f) => f()) };
}

function same(decoded: unknown, m: unknown, b: Buffer): void {
  if (!isDeepStrictEqual(decoded, m)) throw new Finding(`round trip: ${b.toString('hex')} decoded to ${JSON.stringify(decoded)}`);
}

/** Run every property over one case; throws a Finding (or the unexpected error) when one fails. */
export async function runCodecCase(c: CodecCase): Promise<void> {
  const chunks = c.chunks.map((h) => Buffer.from(h, 'hex'));
  if (c.side === 'startup') return handshake(chunks, c.maxFrame, false);
  const decode = c.side === 'frontend' ? decodeFrontend : decodeBackend;
  const encodeSame = (type: number, buf: Buffer, s: number, e: number) => {
    const m = decode(type, buf, s, e);
    entriesWithin(m, e - s);
    if (c.valid) {
      const again = c.side === 'frontend' ? encodeFrontend(m as never) : encodeBackend(m as never);
      if (!again.equals(buf.subarray(s - 5, e))) throw new Finding(`re-encoding ${buf.subarray(s - 5, e).toString('hex')} gave ${again.toString('hex')}`);
    }
  };
  // push: every complete frame, and the bytes handed back are exactly those frames
  const split = new FrameSplitter(c.maxFrame);
  const seen: Buffer[] = [];
  const handed: Buffer[] = [];
  const pushed = guarded(() => {
    for (const ch of chunks) {
      handed.push(Buffer.from(split.push(ch, (type, buf, s, e) => {
        seen.push(Buffer.from(buf.subarray(s - 5, e)));
        guarded(() => encodeSame(type, buf, s, e));
      })));
      if (split.buffered > c.maxFrame + 1) throw new Finding(`the splitter holds ${split.buffered} bytes, over one frame of ${c.maxFrame}`);
    }
  });
  // (a stream that broke framing part-way is only checked for what it threw)
  if (pushed && !Buffer.concat(handed).equals(Buffer.concat(seen))) throw new Finding('push handed back bytes other than the frames it visited');
  if (c.valid && !Buffer.concat(seen).equals(Buffer.concat(chunks))) throw new Finding('a valid stream did not come out as the frames that went in');
  // pushJudged, with fates chosen by the frame's bytes: what is forwarded is the frames
  // kept, replacements in their place, nothing else; a STALL holds the rest exactly
  const judged = new FrameSplitter(c.maxFrame);
  const expected: Buffer[] = [];
  const got: Buffer[] = [];
  let stalls = 0;
  const judge = (type: number, buf: Buffer, s: number, e: number): FrameFate => {
    const frame = buf.subarray(s - 5, e);
    const k = (type + (e - s)) % 5;
    if (k === 1 && stalls < 3) {
      stalls++;
      return STALL;
    }
    if (k === 2) return null;
    if (k === 3) {
      expected.push(Buffer.from('R'));
      return Buffer.from('R');
    }
    expected.push(Buffer.from(frame));
    return undefined;
  };
  const judgedAll = guarded(() => {
    for (const ch of chunks) {
      let out = judged.pushJudged(ch, judge);
      for (;;) {
        got.push(...out.map((b) => Buffer.from(b)));
        const held = judged.takeHeld();
        if (!held) break;
        out = judged.pushJudged(held, judge);
      }
    }
  });
  if (judgedAll && !Buffer.concat(got).equals(Buffer.concat(expected))) throw new Finding('pushJudged forwarded other bytes than the frames it kept and their replacements');
  await handshake(chunks, c.maxFrame, true);
}

/** ProtocolError is the codec's answer to bad input (false comes back); anything else is a crash. */
function guarded(f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) return false;
    throw e;
  }
}

/** Lists decoded from a frame: never more entries than the frame has bytes (no allocation from a count alone). */
function entriesWithin(m: object, bytes: number): void {
  for (const v of Object.values(m)) {
    if (Array.isArray(v) && v.length > bytes) throw new Finding(`a list of ${v.length} entries decoded from ${bytes} bytes`);
  }
  const fields = (m as { fields?: unknown }).fields;
  if (fields && typeof fields === 'object' && !Array.isArray(fields) && Object.keys(fields).length > bytes) throw new Finding('more notice fields than bytes');
}

/** The handshake reader over a fake socket: messages until the stream ends, ProtocolError only. */
async function handshake(chunks: Buffer[], maxMessage: number, typed: boolean): Promise<void> {
  const socket = new EventEmitter() as unknown as Duplex;
  const reader = new HandshakeReader(socket, maxMessage);
  let i = 0;
  let stop = false;
  // one chunk per turn of the event loop, as a socket delivers them
  const feed = () => {
    if (stop) return;
    if (i < chunks.length) {
      socket.emit('data', chunks[i++]);
      setImmediate(feed);
    } else socket.emit('end');
  };
  setImmediate(feed);
  try {
    for (let n = 0; n < 10_000; n++) {
      const m = await reader.message(typed);
      if (!typed) {
        try {
          decodeStartup(m.payload, 0, m.payload.length);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      }
    }
    throw new Finding('the handshake reader gave 10000 messages from a short stream');
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  } finally {
    stop = true;
    reader.detach();
  }
}
