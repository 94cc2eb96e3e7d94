// Server-sent events of an LLM API, masked as they stream. The text of an answer arrives in
// many small deltas (Anthropic `content_block_delta`/`text_delta`, OpenAI `choices[].delta
// .content`), so a value may be split across events: `"...grace.sp"` then `"lit@example.org"`.
// The text of each content block (or choice) is one stream for the masker: each delta goes
// out as the masked text that can be decided now, holding back at most HOLD characters that
// could still become a finding; the held text goes out, masked, in a delta of its own just
// before the block ends (the same for the `thinking_delta` text of extended thinking). The
// arguments of a tool call (Anthropic `input_json_delta`, OpenAI `delta.tool_calls[]
// .function.arguments`) are JSON text cut anywhere: each call's fragments
// are one stream for the JSON fragment masker (json-fragments.ts), so what the client
// concatenates is valid JSON with the secrets replaced inside its strings. Every other event
// is masked as text. An event that does not parse is masked as text too.
import type { Masker } from '../../masking/index.ts';
import { createJsonFragmentMasker } from './json-fragments.ts';

/** Longest tail of a delta stream held back (an email, a card number, a key=value). */
const HOLD = 96;

/** One stream of deltas: a block's text or a tool call's arguments. */
interface DeltaStream {
  push(s: string): string;
  end(): string;
  readonly masked: boolean;
}

interface Delta {
  key: string;
  /** the delta's type and the field that carries its text (`text_delta`/`text`, `input_json_delta`/`partial_json`) */
  type: string;
  field: string;
  /** text deltas, or the JSON text of tool arguments */
  json: boolean;
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
  /** per Anthropic block: the type and field of its deltas (for the delta that carries what was held) */
  const blockDeltas = new Map<string, { type: string; field: string }>();
  /** per content block, choice or tool call: its stream masker */
  const streams = new Map<string, DeltaStream>();
  const text = (s: string) => {
    const m = masker.maskText(s);
    if (m !== s) masked = true;
    return m;
  };
  const through = (key: string, s: string, json = false) => {
    let sm = streams.get(key);
    if (!sm) streams.set(key, (sm = json ? createJsonFragmentMasker(masker, HOLD) : masker.createStreamMasker({ maxHold: HOLD })));
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
    if (data === '[DONE]') return [...streams.keys()].filter((k) => k.startsWith('o')).map((k) => flush(k, (t) => openaiHeld(k, t, {}), null)).join('') + raw + sep;
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
      if (d) blockDeltas.set(d.key, { type: d.type, field: d.field });
      if (d) {
        return rewrite(d.withText(through(d.key, d.text, d.json)));
      }
    }
    if (obj.type === 'content_block_stop' || obj.type === 'message_stop') {
      const keys = obj.type === 'message_stop' ? [...streams.keys()].filter((k) => k.startsWith('a')) : [`a${Number(obj.index)}`];
      for (const k of keys) {
        const { type, field } = blockDeltas.get(k) ?? { type: 'text_delta', field: 'text' };
        blockDeltas.delete(k);
        before += flush(k, (t) => ({ type: 'content_block_delta', index: Number(k.slice(1)), delta: { type, [field]: t } }), 'content_block_delta');
      }
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
        // each tool call's arguments: JSON text in fragments
        if (delta && Array.isArray(delta.tool_calls)) {
          for (const call of delta.tool_calls as Record<string, unknown>[]) {
            const fn = call.function as Record<string, unknown> | undefined;
            if (!fn || typeof fn.arguments !== 'string') continue;
            const out = through(`${key}/${Number(call.index ?? 0)}`, fn.arguments, true);
            if (out !== fn.arguments) {
              fn.arguments = out;
              changed = true;
            }
          }
        }
        if (c.finish_reason) {
          // What was held goes in this chunk's own delta when it has one for that stream
          // (it comes after the delta's text), else in a chunk of its own just before.
          for (const k of [...streams.keys()].filter((x) => x === key || x.startsWith(`${key}/`))) {
            const slot = heldSlot(delta, k);
            if (!slot) {
              before += flush(k, (t) => openaiHeld(k, t, obj), null);
              continue;
            }
            const rest = ended(k);
            if (rest) {
              slot.holder[slot.field] = String(slot.holder[slot.field]) + rest;
              changed = true;
            }
          }
        }
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

/** The delta types of an Anthropic stream that carry text, and the field that holds it. */
const ANTHROPIC_DELTAS: Record<string, string> = { text_delta: 'text', thinking_delta: 'thinking', input_json_delta: 'partial_json' };

function anthropicDelta(obj: Record<string, unknown>): Delta | null {
  const delta = obj.delta as Record<string, unknown> | undefined;
  const type = String(delta?.type);
  const field = ANTHROPIC_DELTAS[type];
  if (!delta || !field || typeof delta[field] !== 'string') return null;
  return { key: `a${Number(obj.index)}`, type, field, json: type === 'input_json_delta', text: delta[field], withText: (t) => ({ ...obj, delta: { ...delta, [field]: t } }) };
}

/** Where a delta already carries text for stream `key` (`o0`: content, `o0/1`: tool call 1's arguments). */
function heldSlot(delta: Record<string, unknown> | undefined, key: string): { holder: Record<string, unknown>; field: string } | null {
  if (!delta) return null;
  const call = key.split('/')[1];
  if (call === undefined) return typeof delta.content === 'string' ? { holder: delta, field: 'content' } : null;
  const calls = Array.isArray(delta.tool_calls) ? (delta.tool_calls as Record<string, unknown>[]) : [];
  const fn = calls.find((c) => Number(c.index ?? 0) === Number(call))?.function as Record<string, unknown> | undefined;
  return fn && typeof fn.arguments === 'string' ? { holder: fn, field: 'arguments' } : null;
}

/** An OpenAI chunk carrying what was held of a choice's text (`o0`) or of a tool call's arguments (`o0/1`). */
function openaiHeld(key: string, text: string, like: Record<string, unknown>): Record<string, unknown> {
  const [choice, call] = key.slice(1).split('/');
  const delta = call === undefined ? { content: text } : { tool_calls: [{ index: Number(call), function: { arguments: text } }] };
  const { choices: _c, usage: _u, ...rest } = like;
  return { ...rest, choices: [{ index: Number(choice), delta, finish_reason: null }] };
}
