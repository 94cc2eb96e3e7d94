// Masking of a stream of text (terminal output, HTTP bodies) that arrives in arbitrary
// chunks. A secret split across two chunks must still be found, so the tail that could
// be the start of one is held back until more text (or the end) arrives:
//   - the unfinished last line (no entity but a PEM key spans a newline), capped at
//     `maxHold` characters; past the cap the cut moves off any finding that crosses it;
//   - from an unterminated "-----BEGIN ... PRIVATE KEY-----" on, up to `maxPemHold`;
//     past that, the rest of the key is redacted as it streams until its END line.
// The last `context` characters already sent are rescanned (not resent) with the held
// text, so `password=` at the end of one line part still marks the value after it.
import type { TextMasker } from './text.ts';

export interface StreamMaskerOptions {
  /** longest partial line held back (default 4096 characters) */
  maxHold?: number;
  /** longest PEM block held back (default 16384) */
  maxPemHold?: number;
  /**
   * Text that came just before the stream and is not part of it (a JSON key before its
   * value): scanned with the first text, never sent, so `"password": "` still marks what follows.
   */
  context?: string;
}

export interface StreamMasker {
  /** Mask what can be decided now; returns the text safe to forward (possibly ''). */
  push(chunk: string): string;
  /** Force out everything held (idle timeout of an interactive terminal). */
  flush(): string;
  /** The end of the stream: everything held, masked. */
  end(): string;
  /** something was replaced so far (a finding, a private key) */
  readonly masked: boolean;
  /**
   * Text is held back (an unfinished line, a private key being drained): nothing pushed so
   * far is waiting. A terminal lets its caller's echoed keys out at once only when false.
   */
  readonly holding: boolean;
}

const CONTEXT = 64;
const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_END = /-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;

export function createStreamMasker(text: TextMasker, opts: StreamMaskerOptions = {}): StreamMasker {
  const maxHold = opts.maxHold ?? 4096;
  const maxPemHold = opts.maxPemHold ?? 16384;
  let held = '';
  let ctx = (opts.context ?? '').slice(-CONTEXT);
  /** inside an over-long private key: drop everything until its END line */
  let inPem = false;
  let masked = false;

  /**
   * Send `held[0, cut)` masked, with `ctx` as left context and the rest of `held` as
   * right context. A finding that crosses the cut moves it: forward to the finding's end
   * when that end is known (the text goes on after it), else back to its start.
   */
  function emit(cut: number, force = false): string {
    const s = ctx + held;
    const base = ctx.length;
    let to = base + cut;
    const kept = text.scanner.scan(s, text.triggers(s));
    const f = text.scanner.findings;
    let out = '';
    let pos = base;
    if (kept !== null) {
      for (const i of kept) {
        const a = f.start[i];
        const b = f.end[i];
        if (a < to && b > to) to = b < s.length || force ? b : Math.max(pos, a);
        if (b <= base || a >= to) continue;
        // A finding that began in text already sent (only past a maxHold cut) is masked from here on.
        out += s.slice(pos, Math.max(a, base)) + text.stylist.renderSpan(f.entity[i], s, a, b);
        masked = true;
        pos = b;
      }
    }
    out += s.slice(pos, to);
    const sent = held.slice(0, to - base);
    ctx = (ctx + sent).slice(-CONTEXT);
    held = held.slice(to - base);
    return out;
  }

  function pemCut(): number {
    // An unterminated PEM header in the held text: hold from it.
    PEM_BEGIN.lastIndex = 0;
    let last = -1;
    for (let m = PEM_BEGIN.exec(held); m; m = PEM_BEGIN.exec(held)) last = m.index;
    if (last === -1) return -1;
    PEM_END.lastIndex = last;
    return PEM_END.test(held) ? -1 : last;
  }

  function drainPem(): string {
    const e = held.indexOf('-----END');
    if (e === -1) {
      // Keep a few characters in case "-----END" is split.
      held = held.slice(Math.max(0, held.length - 8));
      return '';
    }
    const close = held.indexOf('-----', e + 8);
    if (close === -1) return '';
    inPem = false;
    held = held.slice(close + 5);
    ctx = '';
    return '';
  }

  function push(chunk: string): string {
    held += chunk;
    let out = '';
    if (inPem) {
      out += drainPem();
      if (inPem) return out;
    }
    const pem = pemCut();
    if (pem !== -1) {
      if (held.length - pem <= maxPemHold) return out + emit(pem);
      // Too long to hold: send what precedes it, redact the key, drop the rest of it.
      out += emit(pem) + '[PRIVATE_KEY]';
      masked = true;
      inPem = true;
      return out + drainPem();
    }
    let cut = held.lastIndexOf('\n') + 1;
    // Past the cap, cut anyway; past four times the cap (one endless token), even inside
    // a finding, masking what arrived of it, so memory stays bounded.
    if (held.length - cut > maxHold) cut = held.length - maxHold;
    return cut > 0 ? out + emit(cut, held.length > 4 * maxHold) : out;
  }

  function flush(): string {
    if (inPem) return '';
    return held.length ? emit(held.length) : '';
  }

  return {
    get masked() {
      return masked;
    },
    get holding() {
      return inPem || held.length > 0;
    },
    push,
    flush,
    end(): string {
      const out = flush();
      held = '';
      ctx = '';
      inPem = false;
      return out;
    },
  };
}
