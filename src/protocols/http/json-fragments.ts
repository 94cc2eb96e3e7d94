// Masking of JSON text that arrives in fragments cut anywhere: the arguments of a tool call an
// LLM streams (Anthropic `input_json_delta.partial_json`, OpenAI `tool_calls[].function
// .arguments`). A fragment may end inside a string, inside an escape (`\u00`, `\`), or inside
// a multibyte character's escape pair, so a secret split across fragments is only visible
// once the string's characters are decoded and read as one text.
//
// The fragments are read with a small JSON tokenizer. Text outside strings goes out as it
// comes (numbers excepted: a card can be a JSON number, so a number is held to its end).
// The characters of each string are decoded and read by a stream masker of their own, which
// holds back at most `hold` characters that could still become a finding; what it releases is
// encoded again as JSON string content. A value's key is given to its masker as context, so
// `"password": "` marks the value after it as in a JSON body. The fragments that go out
// therefore concatenate to valid JSON of the same shape, secrets replaced inside strings.
import type { Masker, StreamMasker } from '../../masking/index.ts';

export interface JsonFragmentMasker {
  /** the masked JSON text that can go now (possibly '') */
  push(fragment: string): string;
  /** the end of the fragments: everything held, masked */
  end(): string;
  readonly masked: boolean;
}

/** Longest number held to its end; past it the number is replaced (no real number is that long). */
const MAX_NUMBER = 512;
/** Longest key kept as context for its value. */
const MAX_KEY = 256;
/** Containers tracked; deeper ones are only counted (their values are still masked, without their key as context). */
const MAX_DEPTH = 256;
const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** A container on the tokenizer's stack: an object (expecting a key or a value) or an array. */
type Frame = { kind: 'object'; expectKey: boolean; key: string } | { kind: 'array' };

export function createJsonFragmentMasker(masker: Masker, hold: number): JsonFragmentMasker {
  const stack: Frame[] = [];
  /** containers opened past MAX_DEPTH and not yet closed */
  let overflow = 0;
  const open = (f: Frame) => {
    if (stack.length < MAX_DEPTH) stack.push(f);
    else overflow++;
  };
  let masked = false;
  /** inside a string: its masker, whether it is a key, the key read so far */
  let str: { sm: StreamMasker; isKey: boolean; key: string } | null = null;
  /** an escape sequence begun in one fragment and not yet complete (starts with `\`) */
  let escape = '';
  /** a number token not yet ended */
  let num = '';
  let numDropped = false;

  const encode = (s: string) => (s ? JSON.stringify(s).slice(1, -1) : '');
  const top = () => stack[stack.length - 1];

  function openString(): string {
    const frame = top();
    const isKey = frame?.kind === 'object' && frame.expectKey;
    const key = frame?.kind === 'object' && !isKey ? frame.key : '';
    const context = key ? `${JSON.stringify(key)}: "` : undefined;
    str = { sm: masker.createStreamMasker({ maxHold: hold, ...(context ? { context } : {}) }), isKey, key: '' };
    return '"';
  }

  function closeString(): string {
    const s = str!;
    str = null;
    const rest = s.sm.end();
    if (s.sm.masked) masked = true;
    const frame = top();
    if (s.isKey && frame?.kind === 'object') frame.key = s.key;
    return `${encode(rest)}"`;
  }

  function stringChars(chars: string): string {
    const s = str!;
    if (s.isKey && s.key.length < MAX_KEY) s.key += chars.slice(0, MAX_KEY - s.key.length);
    return encode(s.sm.push(chars));
  }

  function endNumber(): string {
    if (!num && !numDropped) return '';
    const n = num;
    const dropped = numDropped;
    num = '';
    numDropped = false;
    if (dropped) return '';
    const m = masker.maskText(n);
    if (m === n) return n;
    masked = true;
    return JSON.stringify(m);
  }

  /** A complete escape sequence (`\n`, `\u00e9`) as the character(s) it stands for. */
  function decodeEscape(e: string): string {
    if (e[1] === 'u') return String.fromCharCode(parseInt(e.slice(2), 16));
    return SIMPLE_ESCAPES[e[1]!] ?? e[1]!;
  }

  function push(fragment: string): string {
    let out = '';
    let i = 0;
    while (i < fragment.length) {
      if (str) {
        // Inside a string: an escape to complete first, then plain characters up to the next `\` or `"`.
        if (escape) {
          const need = escape.length >= 2 && escape[1] === 'u' ? 6 : 2;
          const take = fragment.slice(i, i + need - escape.length);
          escape += take;
          i += take.length;
          if (escape.length === 2 && escape[1] === 'u') continue;
          if (escape.length < need) break;
          if (escape[1] === 'u' && !/^\\u[0-9a-fA-F]{4}$/.test(escape)) {
            // Not JSON; pass it as the characters it is, read like the rest.
            out += stringChars(escape.slice(1));
          } else out += stringChars(decodeEscape(escape));
          escape = '';
          continue;
        }
        let j = i;
        while (j < fragment.length && fragment[j] !== '\\' && fragment[j] !== '"') j++;
        if (j > i) out += stringChars(fragment.slice(i, j));
        if (j >= fragment.length) break;
        if (fragment[j] === '"') out += closeString();
        else escape = '\\';
        i = j + 1;
        continue;
      }
      const c = fragment[i]!;
      if (/[-+.\deE]/.test(c) && (num || numDropped || /[-\d]/.test(c))) {
        if (numDropped) {
          i++;
          continue;
        }
        num += c;
        if (num.length > MAX_NUMBER) {
          num = '';
          numDropped = true;
          masked = true;
          out += '"[NUMBER]"';
        }
        i++;
        continue;
      }
      out += endNumber();
      const frame = top();
      switch (c) {
        case '"':
          out += openString();
          break;
        case '{':
          open({ kind: 'object', expectKey: true, key: '' });
          out += c;
          break;
        case '[':
          open({ kind: 'array' });
          out += c;
          break;
        case '}':
        case ']':
          if (overflow) overflow--;
          else stack.pop();
          out += c;
          break;
        case ':':
          if (frame?.kind === 'object') frame.expectKey = false;
          out += c;
          break;
        case ',':
          if (frame?.kind === 'object') frame.expectKey = true;
          out += c;
          break;
        default:
          out += c;
      }
      i++;
    }
    return out;
  }

  return {
    get masked() {
      return masked;
    },
    push,
    end(): string {
      // Fragments that stop early (an answer cut at max_tokens) end as they were cut: what was
      // held goes out masked, an unfinished escape as it came.
      let out = endNumber();
      if (str) {
        const rest = str.sm.end();
        if (str.sm.masked) masked = true;
        out += encode(rest) + escape;
        str = null;
        escape = '';
      }
      return out;
    },
  };
}
