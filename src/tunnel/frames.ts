// The tunnel's frame format. One WebSocket message carries one or more frames, each
//   type (u8) | stream id (u32 BE) | payload length (u32 BE) | payload
// Frames from several streams are batched into one message per event-loop turn, so a
// busy tunnel costs one write syscall per turn, not one per stream.

export const FrameType = {
  /** gateway -> agent: dial "host:port" for this new stream */
  OPEN: 1,
  /** agent -> gateway: the dial succeeded, bytes may flow */
  OPENED: 2,
  /** bytes of the stream; the sender must hold that much credit */
  DATA: 3,
  /** the sender will send no more data on this stream (half-close, like TCP FIN) */
  CLOSE: 4,
  /** abort the stream at once; payload: a reason for people (utf8) */
  ERROR: 5,
  /** grant the peer more credit; payload: u32 bytes */
  WINDOW: 6,
  /** stream 0; payload echoed by PONG */
  PING: 7,
  PONG: 8,
  /** stream 0, gateway -> agent after accepting it; payload: JSON { agent, heartbeatMs } */
  HELLO: 9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const HEADER_BYTES = 9;
/** Largest payload one frame may carry; DATA is split at this size so streams interleave. */
export const MAX_FRAME_PAYLOAD = 64 * 1024;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export interface Frame {
  type: number;
  stream: number;
  payload: Buffer;
}

export function encodeFrame(type: FrameType, stream: number, payload?: Buffer | string): Buffer {
  const body = payload === undefined ? null : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const len = body ? body.length : 0;
  if (len > MAX_FRAME_PAYLOAD) throw new FrameError(`frame payload of ${len} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + len);
  out[0] = type;
  out.writeUInt32BE(stream >>> 0, 1);
  out.writeUInt32BE(len, 5);
  if (body) body.copy(out, HEADER_BYTES);
  return out;
}

/** Just the header, for DATA whose payload is sent as its own buffer (no copy). */
export function encodeHeader(type: FrameType, stream: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES);
  out[0] = type;
  out.writeUInt32BE(stream >>> 0, 1);
  out.writeUInt32BE(len, 5);
  return out;
}

export function windowPayload(bytes: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(bytes >>> 0);
  return b;
}

/**
 * Split one WebSocket message into frames. A message always holds whole frames, so
 * nothing is carried over between messages; anything else is a broken peer.
 * Payloads are views into `msg` (no copy).
 */
export function decodeFrames(msg: Buffer, onFrame: (f: Frame) => void): void {
  let at = 0;
  while (at < msg.length) {
    if (msg.length - at < HEADER_BYTES) throw new FrameError(`truncated frame header at byte ${at}`);
    const type = msg[at]!;
    if (type < FrameType.OPEN || type > FrameType.HELLO) throw new FrameError(`unknown frame type ${type}`);
    const stream = msg.readUInt32BE(at + 1);
    const len = msg.readUInt32BE(at + 5);
    if (len > MAX_FRAME_PAYLOAD) throw new FrameError(`frame payload of ${len} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
    const end = at + HEADER_BYTES + len;
    if (end > msg.length) throw new FrameError(`frame of ${len} bytes runs past the end of the message`);
    onFrame({ type, stream, payload: msg.subarray(at + HEADER_BYTES, end) });
    at = end;
  }
}
