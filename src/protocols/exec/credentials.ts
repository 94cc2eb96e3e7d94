// An exec connection's credentials must never reach its caller, even when the command echoes
// them (`env`, `kubectl config view --raw`, `cat $GOOGLE_APPLICATION_CREDENTIALS`). Every
// credential value is replaced in the output, whole, wherever it shows: each `env` value,
// each credential file's content, and each secret-looking piece of a file (a token in a
// kubeconfig, a key in a service-account JSON), since a command prints files in part.
// The replacement works on a stream: a value split across two writes is still found,
// because the end of a write that could begin a credential is held back until the next.
import type { ExecConnectionConfig } from '../../config/schema.ts';

export const CREDENTIAL_MARK = '[CREDENTIAL]';
/** pieces of a file shorter than this are not secrets on their own (`apiVersion`, `https`) */
const MIN_PIECE = 16;

/** The values to hide, longest first (so a whole value goes before the pieces inside it). */
export function credentialValues(c: Pick<ExecConnectionConfig, 'env' | 'files'>): string[] {
  const out = new Set<string>();
  // a value naming a credential file holds its path (filled in by the agent), not a secret
  for (const v of Object.values(c.env)) if (!v.includes('${credentialFile:')) out.add(v);
  for (const content of Object.values(c.files)) {
    const whole = content.trim();
    if (whole.length >= 8) out.add(whole);
    for (const piece of content.split(/\\n|[\s"'`,;{}[\]=:]+/)) {
      // words of the format (`certificate-authority-data`, `current-context`) are no secrets
      if (piece.length >= MIN_PIECE && !/^[a-z][a-z0-9_-]*$/.test(piece)) out.add(piece);
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/** Replaces credential values in a stream of text. */
export class CredentialScrubber {
  private held = '';
  /** some credential was replaced */
  masked = false;

  constructor(private readonly values: readonly string[]) {}

  push(text: string): string {
    if (!this.values.length) return text;
    const s = this.replace(this.held + text);
    const keep = this.pending(s);
    this.held = s.slice(s.length - keep);
    return s.slice(0, s.length - keep);
  }

  end(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Every value's occurrences, replaced. */
  replace(s: string): string {
    for (const v of this.values) {
      if (!s.includes(v)) continue;
      s = s.split(v).join(CREDENTIAL_MARK);
      this.masked = true;
    }
    return s;
  }

  /** Length of the longest end of `s` that begins some value (held back until more comes). */
  private pending(s: string): number {
    let keep = 0;
    for (const v of this.values) {
      const from = Math.max(0, s.length - v.length + 1, 0);
      for (let p = s.indexOf(v[0]!, from); p !== -1 && s.length - p > keep; p = s.indexOf(v[0]!, p + 1)) {
        if (v.startsWith(s.slice(p))) {
          keep = s.length - p;
          break;
        }
      }
    }
    return keep;
  }
}
