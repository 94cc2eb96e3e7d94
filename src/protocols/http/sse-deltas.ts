// Server-sent events of an LLM API, masked as they stream. The text of an answer arrives in
// many small deltas (Anthropic `content_block_delta`/`text_delta`, OpenAI `choices[].delta
// .content`), so a value may be split across events: `"...grace.sp"` then `"lit@example.org"`.
// The text of each content block (or choice) is one stream for the masker: each delta goes
// out as the masked text that can be decided now, holding back at most HOLD characters that
// could still become a finding; the held text goes out, masked, in a delta of its own just
// before the block ends. Every other event is masked as text. An event that does not parse
// is masked as text too.
import type { Masker, StreamMasker } from '../../masking/index.ts';

/** Longest tail of a delta stream held back (an email, a card number, a key=value). */
const HOLD = 96;

interface Delta {
  key: string;
  /** the delta's text */
  text: string;
  /** the same event with other text (a synthetic delta carries what was held) */
  withText(text: string): Record<string, unknown>;
}

export interface SseMasker {
  /** masked events ready to send (whole events only) */
  push(text: string): string;
  /** the end of the stream: what is left, masked */
  end(): string;
  /** something was masked */
  readonly masked: boolean;
}

export function createSseMasker(masker: Masker): SseMasker {
  let buffer = '';
  let masked = false;
  /** per content block or choice: its stream masker */
  const streams = new Map<string, StreamMasker>();
  const text = (s: string) => {
    const m = masker.maskText(s);
    if (m !== s) masked = true;
    return m;
  };
  const through = (key: string, s: string) => {
    let sm = streams.get(key);
    if (!sm) streams.set(key, (sm = masker.createStreamMasker({ maxHold: HOLD })));
    return sm.push(s);
  };
  const ended = (key: string): string => {
    const sm = streams.get(key)!;
    streams.delete(key);
    const rest = sm.end();
    if (sm.masked) masked = true;
    return rest;
  };
  /** The held text of a stream, as a delta event sent before the event that ends it. */
  const flush = (key: string, make: (text: string) => Record<string, unknown>, name: string | null): string => {
    if (!streams.has(key)) return '';
    const rest = ended(key);
    return rest ? `${name ? `event: ${name}\n` : ''}data: ${JSON.stringify(make(rest))}\n\n` : '';
  };

  function onEvent(raw: string, sep: string): string {
    const lines = raw.split(/\r?\n/);
    const dataLines = lines.filter((l) => l.startsWith('data:'));
    if (!dataLines.length) return text(raw) + sep;
    const data = dataLines.map((l) => l.slice(l[5] === ' ' ? 6 : 5)).join('\n');
    if (data === '[DONE]') return [...streams.keys()].map((k) => flush(k, (t) => ({ choices: [{ index: Number(k.slice(1)), delta: { content: t }, finish_reason: null }] }), null)).join('') + raw + sep;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return text(raw) + sep;
    }
    const other = lines.filter((l) => !l.startsWith('data:')).map((l) => `${l}\n`).join('');
    const rewrite = (o: unknown) => `${other}data: ${JSON.stringify(o)}${sep}`;
    let before = '';
    // Anthropic: a block's deltas, then its stop
    if (obj.type === 'content_block_delta') {
      const d = anthropicDelta(obj);
      if (d) {
        return rewrite(d.withText(through(d.key, d.text)));
      }
    }
    if (obj.type === 'content_block_stop' || obj.type === 'message_stop') {
      const keys = obj.type === 'message_stop' ? [...streams.keys()].filter((k) => k.startsWith('a')) : [`a${Number(obj.index)}`];
      for (const k of keys) before += flush(k, (t) => ({ type: 'content_block_delta', index: Number(k.slice(1)), delta: { type: 'text_delta', text: t } }), 'content_block_delta');
    }
    // OpenAI: each choice's deltas, then a chunk with its finish_reason
    if (Array.isArray(obj.choices)) {
      let changed = false;
      for (const c of obj.choices as Record<string, unknown>[]) {
        const key = `o${Number(c.index ?? 0)}`;
        const delta = c.delta as Record<string, unknown> | undefined;
        if (delta && typeof delta.content === 'string') {
          const out = through(key, delta.content);
          if (out !== delta.content) {
            delta.content = out;
            changed = true;
          }
        }
        if (c.finish_reason) before += flush(key, (t) => ({ ...obj, choices: [{ index: Number(c.index ?? 0), delta: { content: t }, finish_reason: null }] }), null);
      }
      if (changed || before) return before + rewrite(obj);
    }
    return before + text(raw) + sep;
  }

  return {
    get masked() {
      return masked;
    },
    push(chunk: string): string {
      buffer += chunk;
      let out = '';
      for (;;) {
        const m = /\r?\n\r?\n/.exec(buffer);
        if (!m) break;
        out += onEvent(buffer.slice(0, m.index), m[0]);
        buffer = buffer.slice(m.index + m[0].length);
      }
      return out;
    },
    end(): string {
      let out = buffer ? text(buffer) : '';
      buffer = '';
      // a stream cut off mid-block: what was held goes out as text, masked
      for (const k of [...streams.keys()]) out += ended(k);
      return out;
    },
  };
}

function anthropicDelta(obj: Record<string, unknown>): Delta | null {
  const delta = obj.delta as Record<string, unknown> | undefined;
  if (!delta || delta.type !== 'text_delta' || typeof delta.text !== 'string') return null;
  return { key: `a${Number(obj.index)}`, text: delta.text, withText: (text) => ({ ...obj, delta: { ...delta, text } }) };
}
