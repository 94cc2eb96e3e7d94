// The tunnel's frame codec and the agent's reconnect backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType, FrameError, MAX_FRAME_PAYLOAD, decodeFrames, encodeFrame, encodeHeader, windowPayload, type Frame } from '../../src/tunnel/frames.ts';
import { Backoff } from '../../src/agent/backoff.ts';
import { tunnelUrl } from '../../src/agent/agent.ts';

const decodeAll = (msg: Buffer) => {
  const out: Frame[] = [];
  decodeFrames(msg, (f) => out.push({ ...f, payload: Buffer.from(f.payload) }));
  return out;
};

test('frames round-trip, several to a message, in order', () => {
  const data = Buffer.from('hello, target');
  const msg = Buffer.concat([
    encodeFrame(FrameType.OPEN, 1, JSON.stringify({ host: 'db', port: 5432 })),
    encodeHeader(FrameType.DATA, 1, data.length),
    data,
    encodeFrame(FrameType.WINDOW, 7, windowPayload(65536)),
    encodeFrame(FrameType.CLOSE, 0xffffffff),
    encodeFrame(FrameType.PING, 0, Buffer.alloc(8, 1)),
  ]);
  const f = decodeAll(msg);
  assert.deepEqual(f.map((x) => [x.type, x.stream]), [[FrameType.OPEN, 1], [FrameType.DATA, 1], [FrameType.WINDOW, 7], [FrameType.CLOSE, 0xffffffff], [FrameType.PING, 0]]);
  assert.deepEqual(JSON.parse(f[0]!.payload.toString()), { host: 'db', port: 5432 });
  assert.equal(f[1]!.payload.toString(), 'hello, target');
  assert.equal(f[2]!.payload.readUInt32BE(0), 65536);
  assert.equal(f[3]!.payload.length, 0);
});

test('a maximal frame round-trips; larger ones are refused on both ends', () => {
  const big = Buffer.alloc(MAX_FRAME_PAYLOAD, 7);
  const [f] = decodeAll(encodeFrame(FrameType.DATA, 3, big));
  assert.equal(f!.payload.length, MAX_FRAME_PAYLOAD);
  assert.throws(() => encodeFrame(FrameType.DATA, 3, Buffer.alloc(MAX_FRAME_PAYLOAD + 1)), FrameError);
  const lying = encodeHeader(FrameType.DATA, 3, MAX_FRAME_PAYLOAD + 1);
  assert.throws(() => decodeAll(Buffer.concat([lying, Buffer.alloc(MAX_FRAME_PAYLOAD + 1)])), /exceeds/);
});

test('malformed messages are refused with a reason, never half-read silently', () => {
  const ok = encodeFrame(FrameType.DATA, 1, 'abc');
  assert.throws(() => decodeAll(ok.subarray(0, 5)), /truncated frame header/);
  assert.throws(() => decodeAll(ok.subarray(0, ok.length - 1)), /runs past the end/);
  const bad = Buffer.from(ok);
  bad[0] = 0x42;
  assert.throws(() => decodeAll(bad), /unknown frame type 66/);
  assert.deepEqual(decodeAll(Buffer.alloc(0)), []);
});

test('backoff: exponential with equal jitter, capped, and reset after success', () => {
  const lo = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0);
  assert.deepEqual([lo.next(), lo.next(), lo.next(), lo.next(), lo.next(), lo.next()], [50, 100, 200, 400, 500, 500]);
  const hi = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0.999999);
  assert.deepEqual([hi.next(), hi.next(), hi.next(), hi.next(), hi.next()], [100, 200, 400, 800, 1000]);
  hi.reset();
  assert.equal(hi.next(), 100);
});

test('the tunnel URL is derived from the gateway URL', () => {
  assert.equal(tunnelUrl('http://127.0.0.1:8009'), 'ws://127.0.0.1:8009/api/v1/agents/connect');
  assert.equal(tunnelUrl('https://warden.example.com/base/'), 'wss://warden.example.com/base/api/v1/agents/connect');
  assert.throws(() => tunnelUrl('ftp://x'), /http\(s\)/);
});
