// Server-sent events as the record keeps them: one entry per event the client got (already
// masked), with its name, its data and when it went out (milliseconds from the request's
// start), so a replay shows how an answer streamed, not one opaque text. Events are kept up to
// the record's byte cap and counted past it. Each event is also handed on (the LLM message
// assembler reads the same masked events).

export interface RecordedEvent {
  /** milliseconds from the start of the request */
  t: number;
  /** the `event:` name, when the event has one */
  event?: string;
  id?: string;
  /** the data lines, joined by newlines */
  data: string;
}

export class SseRecorder {
  readonly events: RecordedEvent[] = [];
  /** events the client got, kept or not */
  count = 0;
  /** some events were left out of the record (the cap) */
  truncated = false;
  private kept = 0;
  private buffer = '';

  constructor(
    private readonly cap: number,
    private readonly startedAt: number,
    private readonly onEvent?: (e: RecordedEvent) => void,
  ) {}

  /** text as it went to the client */
  push(text: string): void {
    this.buffer += text;
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.buffer);
      if (!m) break;
      this.event(this.buffer.slice(0, m.index));
      this.buffer = this.buffer.slice(m.index + m[0].length);
    }
  }

  /** the stream ended: an event without its blank line still counts */
  end(): void {
    if (this.buffer.trim()) this.event(this.buffer);
    this.buffer = '';
  }

  private event(raw: string): void {
    const e: RecordedEvent = { t: Date.now() - this.startedAt, data: '' };
    const data: string[] = [];
    for (const line of raw.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
      if (field === 'data') data.push(value);
      else if (field === 'event') e.event = value;
      else if (field === 'id') e.id = value;
    }
    if (!data.length && e.event === undefined) return;
    e.data = data.join('\n');
    this.count++;
    this.onEvent?.(e);
    const size = e.data.length + (e.event?.length ?? 0) + 24;
    if (this.kept + size > this.cap) {
      this.truncated = true;
      return;
    }
    this.kept += size;
    this.events.push(e);
  }
}
