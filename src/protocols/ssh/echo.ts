// The echo of the caller's own keys on a terminal. The masker holds an unfinished line back
// until the output goes idle (a secret split across writes must still be found), so each
// typed key would show only after that idle time. What a pty echoes for a typed key is the
// caller's own bytes: letting them out at once reveals nothing the caller did not send.
//
// This follows the keys sent and not yet seen echoed, one expected echo per key: a
// printable character echoes as itself; Backspace/DEL as one of the erase sequences a tty
// or readline writes. Any other key (Enter, Tab, Ctrl-x, an escape sequence) has no
// foreseeable echo: it is a barrier nothing matches. `match` says how many leading
// characters of an output chunk are exactly the expected echo; any output past them (a
// redraw, the target's own text, a full-screen app that does not echo literally) clears
// what is expected, so from there on every byte is the target's and keeps the masker's hold.
// A target that imitates the echo gets released only bytes equal to what the caller typed.
//
// Why not a smarter flush policy in the masker instead (let held text out when it cannot
// begin any detector's match)? Nearly any word can begin one (an email's local part, a
// `password=` context, an operator's custom pattern), so it would rarely fire on typed text,
// and proving it for every detector is brittle; the echo is safe by where it comes from.
//
// Fail closed: output.ts releases the matched echo at once only when the masker holds
// nothing of the target's before it (stream.ts `holding`); otherwise it is pushed as
// ordinary output and waits with the rest.

/** What a key may echo as, longest first; empty: a barrier (its echo cannot be foreseen). */
type Expected = readonly string[];

// A tty in canonical mode (echoe) writes "\b \b"; readline "\b\x1b[K" at the end of the
// line, "\b\x1b[1P" inside it (then redraws the rest: target output, held as usual).
const ERASE: Expected = ['\b\x1b[1P', '\b\x1b[K', '\b \b', '\b'];
const BARRIER: Expected = [];
// A terminal wraps a paste in these (bracketed paste); they are not echoed.
const PASTE_MARKS = new RegExp(String.raw`\x1b\[20[01]~`, 'g');
/** keys awaiting their echo (a paste of a large block): past this, a barrier */
const MAX_PENDING = 4096;

export class EchoTracker {
  private pending: Expected[] = [];

  /** Keys the caller sent to the target (decoded text). */
  typed(text: string): void {
    for (const c of text.replace(PASTE_MARKS, '')) {
      if (this.pending.length >= MAX_PENDING) {
        // what follows cannot be followed: nothing past here matches
        this.pending[MAX_PENDING - 1] = BARRIER;
        return;
      }
      this.pending.push(expectedEcho(c));
    }
  }

  /**
   * How many leading characters of this output are the echo of keys sent (0: none), which
   * are then no longer expected. Output beyond the echo clears what is expected.
   */
  match(text: string): number {
    let n = 0;
    let k = 0;
    while (k < this.pending.length && n < text.length) {
      const alt = this.pending[k]!.find((e) => text.startsWith(e, n));
      if (alt === undefined) break;
      n += alt.length;
      k++;
    }
    if (n < text.length) this.pending = [];
    else this.pending.splice(0, k);
    return n;
  }
}

function expectedEcho(c: string): Expected {
  if (c === '\x7f' || c === '\b') return ERASE;
  const cp = c.codePointAt(0)!;
  // C0 controls, DEL, C1 controls: no literal echo
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return BARRIER;
  return [c];
}
