// What the caller types in a shell, as lines, where a line can be known: typed plainly and
// ended by Enter, outside a full-screen application (the alternate screen), and echoed by
// the terminal. A line edited with the cursor keys, completed with Tab, recalled from
// history, or typed where nothing echoes (a password prompt) cannot be known from the
// keystrokes alone: it is `unknown`, passed through, and shows only in the recording.

/** Keystrokes up to an Enter (or the end of a chunk): forward `before`, then the Enter. */
export interface Segment {
  before: string;
  /** '' when the chunk ended without an Enter */
  enter: string;
  /** the line typed plainly (null: edited, in a full-screen app, or no Enter) */
  line: string | null;
}

// ESC [ ? 1049 h / l: the alternate screen of full-screen apps (vim, less, top)
const ALT_ON = new RegExp(String.raw`\x1b\[\?(?:1049|1047|47)h`, 'g');
const ALT_OFF = new RegExp(String.raw`\x1b\[\?(?:1049|1047|47)l`, 'g');
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';
/** output kept since the line began, to see whether it was echoed */
const ECHO_WINDOW = 8192;

export class LineTracker {
  private line = '';
  private edited = false;
  private echo = '';
  private fullScreen = false;

  /** The terminal's output (masked), to follow the alternate screen and the echo. */
  output(text: string): void {
    const on = lastIndex(ALT_ON, text);
    const off = lastIndex(ALT_OFF, text);
    if (on !== -1 || off !== -1) this.fullScreen = on > off;
    this.echo = (this.echo + text).slice(-ECHO_WINDOW);
  }

  /** Has the terminal shown this text since the line began? */
  echoed(text: string): boolean {
    return this.echo.includes(text);
  }

  /** Keystrokes in order, cut at each Enter. */
  input(data: string): Segment[] {
    const out: Segment[] = [];
    let from = 0;
    for (let i = 0; i < data.length; i++) {
      const ch = data[i]!;
      // bracketed paste marks pasted text; they are no edit (the text between them is typed)
      if (ch === '\x1b' && (data.startsWith(PASTE_START, i) || data.startsWith(PASTE_END, i))) {
        i += PASTE_START.length - 1;
        continue;
      }
      if (ch === '\r' || ch === '\n') {
        const line = this.fullScreen || this.edited ? null : this.line;
        out.push({ before: data.slice(from, i), enter: ch, line });
        this.line = '';
        this.edited = false;
        from = i + 1;
        continue;
      }
      if (this.fullScreen) continue;
      if (ch === '\x7f' || ch === '\b') this.line = this.line.slice(0, -1);
      else if (ch === '\x03' || ch === '\x15') {
        this.line = '';
        this.edited = false;
      } else if (ch < ' ' || ch === '\x1b') this.edited = true; // Tab, arrows, history, Ctrl-R...
      else this.line += ch;
    }
    if (from < data.length) out.push({ before: data.slice(from), enter: '', line: null });
    return out;
  }

  /** A line was sent: what the terminal shows next belongs to the next one. */
  nextLine(): void {
    this.echo = '';
  }
}

function lastIndex(re: RegExp, s: string): number {
  re.lastIndex = 0;
  let last = -1;
  for (let m = re.exec(s); m; m = re.exec(s)) last = m.index;
  return last;
}
