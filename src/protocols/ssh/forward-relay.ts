// The bytes of one forwarded connection, both ways, counted. A slow side slows the other
// (pause until the slow one drains): memory stays bounded by the channels' windows. An EOF
// is passed on as an EOF (half-close, as TCP does); when one side closes, the other is closed
// once what was written to it has gone out. `done` is told when both sides have closed.
import type { Duplex } from 'node:stream';

export interface Relayed {
  /** bytes the caller sent to the target */
  fromCaller: number;
  /** bytes the target sent to the caller */
  toCaller: number;
  /** what broke the connection, when something did */
  error?: string;
}

/** An ssh2 channel closes with close() (CHANNEL_CLOSE); any other stream is destroyed. */
function shut(s: Duplex): void {
  const ch = s as Duplex & { close?: () => void };
  if (typeof ch.close === 'function') ch.close();
  else s.destroy();
}

const EMPTY = Buffer.alloc(0);

/**
 * An EOF on `to`, after what was written to it. ssh2 closes a channel of its server side
 * when its writable side ends, which would cut off what the peer still sends (the echo of a
 * half-closed connection): such a channel sends its EOF alone.
 */
function endOf(to: Duplex): void {
  const ch = to as Duplex & { server?: boolean; eof?: () => void };
  if (ch.server !== true || typeof ch.eof !== 'function') return void to.end();
  to.write(EMPTY, () => ch.eof!());
}

export function relayCounted(caller: Duplex, target: Duplex, done: (r: Relayed) => void): void {
  const r: Relayed = { fromCaller: 0, toCaller: 0 };
  const pump = (from: Duplex, to: Duplex, count: (n: number) => void) => {
    let waiting = false;
    from.on('data', (b: Buffer) => {
      count(b.length);
      if (!to.write(b) && !waiting) {
        waiting = true;
        from.pause();
        to.once('drain', () => {
          waiting = false;
          from.resume();
        });
      }
    });
    from.once('end', () => endOf(to));
  };
  pump(caller, target, (n) => (r.fromCaller += n));
  pump(target, caller, (n) => (r.toCaller += n));
  let open = 2;
  const closed = (other: Duplex) => () => {
    // what was written to the other side still goes out, then it closes too
    if (!other.destroyed) {
      if (other.writableFinished) shut(other);
      else {
        other.once('finish', () => shut(other));
        other.end();
      }
    }
    if (--open === 0) done(r);
  };
  caller.once('close', closed(target));
  target.once('close', closed(caller));
  const failed = (e: Error) => {
    r.error ??= e.message;
    shut(caller);
    shut(target);
  };
  caller.on('error', failed);
  target.on('error', failed);
}
