// A terminal session recorded as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
// a JSON header line, then one JSON line per event: [seconds, "o" | "i" | "r" | "m", data].
// Output is written already masked; input only as whole lines the terminal echoed (so a
// password typed at a prompt that does not echo is never kept). The file is 0600 in a
// 0700 directory of the data dir.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';

export class AsciicastWriter {
  readonly path: string;
  private readonly out: WriteStream;
  private readonly t0 = performance.now();

  constructor(dir: string, name: string, header: { width: number; height: number; term: string; title: string }) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, `${name}.cast`);
    this.out = createWriteStream(this.path, { mode: 0o600, flags: 'wx' });
    this.out.on('error', () => {});
    this.out.write(`${JSON.stringify({ version: 2, width: header.width, height: header.height, timestamp: Math.floor(Date.now() / 1000), title: header.title, env: { TERM: header.term } })}\n`);
  }

  private event(kind: 'o' | 'i' | 'r' | 'm', data: string): void {
    const t = Math.round(performance.now() - this.t0) / 1000;
    this.out.write(`${JSON.stringify([t, kind, data])}\n`);
  }

  output(text: string): void {
    this.event('o', text);
  }

  input(line: string): void {
    this.event('i', line);
  }

  /** A marker (asciicast v2 "m"): the id of a command run at this moment, where a replay can start (cli/cast-seek.ts). */
  marker(label: string): void {
    this.event('m', label);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
