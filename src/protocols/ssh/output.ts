// One stream of a target's output (stdout or stderr) on its way to the caller: decoded as
// UTF-8, masked by the streaming masker (a secret split across writes is still found), then
// written to the caller and kept, up to a byte cap, for the record. On a terminal, text the
// masker holds back (an unfinished line: a prompt) is let out after a short idle time, so a
// prompt shows; a secret split across writes further apart than that can get through there.
// The echo of the caller's own keys is let out at once when nothing of the target's is held
// before it (echo.ts): typing does not wait for the idle time, and no target text goes early.
// With masking off, the bytes pass unchanged (binary output intact); with it on, output is
// read as UTF-8 text, and bytes that are not become U+FFFD.
import { StringDecoder } from 'node:string_decoder';
import type { Masker } from '../../masking/index.ts';
import type { StreamMasker } from '../../masking/stream.ts';
import type { EchoTracker } from './echo.ts';

/**
 * How long a terminal's output is idle before held text (a prompt) is let out. A setting
 * object rather than a constant so a test can make it long: then anything that shows on the
 * terminal before it must have been let out for another reason (an echo), not by the timer.
 */
export const terminalOutput = { idleFlushMs: 60 };

export interface MaskedOutputOptions {
  masker: Masker | null;
  /** where masked text goes (the caller's channel); the bytes themselves when masking is off */
  write(data: string | Buffer, text: string): void;
  /** bytes of masked output kept for the record */
  keepBytes: number;
  /** a terminal: flush held text after this many ms without output (0: never) */
  idleFlushMs: number;
  /** a terminal's stdout: the caller's keys awaiting their echo, let out without the idle wait */
  echo?: EchoTracker;
}

export class MaskedOutput {
  private readonly decoder = new StringDecoder('utf8');
  private readonly sm: StreamMasker | null;
  private timer: NodeJS.Timeout | null = null;
  kept = '';
  keptBytes = 0;
  truncated = false;
  bytes = 0;

  constructor(private readonly o: MaskedOutputOptions) {
    this.sm = o.masker && o.masker.enabled ? o.masker.createStreamMasker() : null;
  }

  get masked(): boolean {
    return this.sm?.masked ?? false;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.sm) {
      const text = this.decoder.write(chunk);
      this.o.write(chunk, text);
      this.keep(text);
      return;
    }
    let text = this.decoder.write(chunk);
    const echo = this.o.echo?.match(text) ?? 0;
    if (echo > 0 && !this.sm.holding) {
      // Only the caller's own keys are held after this push (nothing of the target's was
      // before them), so forcing them out reveals nothing; the target's text after them
      // is pushed on as usual and held, rescanned with them as its left context.
      this.emit(this.sm.push(text.slice(0, echo)) + this.sm.flush());
      text = text.slice(echo);
      if (!text) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        return;
      }
    }
    this.emit(this.sm.push(text));
    if (this.o.idleFlushMs > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.emit(this.sm!.flush()), this.o.idleFlushMs);
    }
  }

  end(): void {
    if (this.timer) clearTimeout(this.timer);
    const rest = this.decoder.end();
    if (this.sm) this.emit(this.sm.push(rest) + this.sm.end());
    else this.keep(rest);
  }

  private emit(text: string): void {
    if (!text) return;
    this.o.write(text, text);
    this.keep(text);
  }

  private keep(text: string): void {
    if (!text) return;
    if (this.keptBytes >= this.o.keepBytes) {
      this.truncated = true;
      return;
    }
    const n = Buffer.byteLength(text);
    if (this.keptBytes + n > this.o.keepBytes) {
      this.kept += Buffer.from(text).subarray(0, this.o.keepBytes - this.keptBytes).toString('utf8');
      this.truncated = true;
    } else this.kept += text;
    this.keptBytes += n;
  }
}
