// The messages of an LLM call as the record keeps them, for Anthropic's Messages API and
// OpenAI's Chat Completions: the request (model, system, messages, tool names) read from its
// body, and the response assembled from what the client got, a JSON answer or the events of
// a stream (text blocks joined, tool calls with their arguments put together, stop reason,
// usage). The response is assembled from the masked answer, so it holds no more than the
// client saw; the request summary is masked by the caller. Both are bounded by the record cap.

export type LlmApi = 'anthropic' | 'openai';

/** Which LLM API a request speaks, by its method and path (null: not one Warden reads). */
export function llmApi(method: string, path: string): LlmApi | null {
  if (method !== 'POST') return null;
  const p = path.split('?')[0]!.replace(/\/+$/, '');
  if (/\/messages$/i.test(p)) return 'anthropic';
  if (/\/chat\/completions$/i.test(p)) return 'openai';
  return null;
}

export type LlmBlock = { type: 'text' | 'thinking'; text: string } | { type: 'tool_call'; id?: string; name?: string; arguments: unknown };

export interface LlmResponse {
  api: LlmApi;
  model?: string;
  role: string;
  content: LlmBlock[];
  stop_reason?: string | null;
  usage?: Record<string, unknown>;
  /** text was left out (the record cap) */
  truncated?: true;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
/** A JSON object's text as an object ({} for another JSON value); null when it is not JSON. */
function jsonObject(text: string): Obj | null {
  try {
    return obj(JSON.parse(text));
  } catch {
    return null;
  }
}
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A block while it is put together: tool arguments are text until the end. */
type Building = { type: 'text' | 'thinking'; text: string } | { type: 'tool_call'; id?: string; name?: string; args: string };

export class ResponseAssembler {
  private model?: string;
  private role = 'assistant';
  private readonly blocks = new Map<string, Building>();
  private stop?: string | null;
  private usage?: Obj;
  private chars = 0;
  private cut = false;
  private seen = false;

  constructor(
    readonly api: LlmApi,
    private readonly cap: number,
  ) {}

  /** one event's data, as the client got it */
  event(data: string): void {
    const o = jsonObject(data);
    if (!o) return;
    if (this.api === 'anthropic') this.anthropicEvent(o);
    else this.openaiChunk(o);
  }

  /** a whole JSON answer, as the client got it */
  json(body: string): void {
    const o = jsonObject(body);
    if (!o) return;
    if (this.api === 'anthropic') {
      if (o.type !== 'message') return;
      this.seen = true;
      this.model = str(o.model);
      this.role = str(o.role) ?? this.role;
      (Array.isArray(o.content) ? o.content : []).forEach((b, i) => {
        const block = obj(b);
        if (block.type === 'tool_use') this.blocks.set(String(i), { type: 'tool_call', id: str(block.id), name: str(block.name), args: JSON.stringify(block.input ?? {}) });
        else if (block.type === 'text' || block.type === 'thinking') this.append(String(i), block.type, str(block.text) ?? str(block.thinking) ?? '');
      });
      this.stop = str(o.stop_reason) ?? null;
      this.usage = obj(o.usage);
      return;
    }
    const choice = obj((Array.isArray(o.choices) ? o.choices : [])[0]);
    if (!o.choices) return;
    this.seen = true;
    this.model = str(o.model);
    const m = obj(choice.message);
    this.role = str(m.role) ?? this.role;
    if (typeof m.content === 'string') this.append('text', 'text', m.content);
    (Array.isArray(m.tool_calls) ? m.tool_calls : []).forEach((c, i) => {
      const call = obj(c);
      const fn = obj(call.function);
      this.blocks.set(`tool${i}`, { type: 'tool_call', id: str(call.id), name: str(fn.name), args: str(fn.arguments) ?? '' });
    });
    this.stop = str(choice.finish_reason) ?? null;
    if (o.usage) this.usage = obj(o.usage);
  }

  /** the assembled message; null when nothing of an LLM answer came */
  result(): LlmResponse | null {
    if (!this.seen) return null;
    const content: LlmBlock[] = [...this.blocks.values()].map((b) => (b.type === 'tool_call' ? { type: 'tool_call', id: b.id, name: b.name, arguments: parsed(b.args) } : b));
    return {
      api: this.api,
      ...(this.model ? { model: this.model } : {}),
      role: this.role,
      content,
      ...(this.stop !== undefined ? { stop_reason: this.stop } : {}),
      ...(this.usage ? { usage: this.usage } : {}),
      ...(this.cut ? { truncated: true as const } : {}),
    };
  }

  private anthropicEvent(o: Obj): void {
    switch (o.type) {
      case 'message_start': {
        this.seen = true;
        const m = obj(o.message);
        this.model = str(m.model);
        this.role = str(m.role) ?? this.role;
        this.usage = { ...obj(m.usage) };
        return;
      }
      case 'content_block_start': {
        const b = obj(o.content_block);
        const key = String(o.index);
        if (b.type === 'tool_use') this.blocks.set(key, { type: 'tool_call', id: str(b.id), name: str(b.name), args: '' });
        else if (b.type === 'text' || b.type === 'thinking') this.append(key, b.type, str(b.text) ?? '');
        return;
      }
      case 'content_block_delta': {
        const d = obj(o.delta);
        const key = String(o.index);
        if (d.type === 'text_delta') this.append(key, 'text', str(d.text) ?? '');
        else if (d.type === 'thinking_delta') this.append(key, 'thinking', str(d.thinking) ?? '');
        else if (d.type === 'input_json_delta') this.appendArgs(key, str(d.partial_json) ?? '');
        return;
      }
      case 'message_delta': {
        const d = obj(o.delta);
        if ('stop_reason' in d) this.stop = str(d.stop_reason) ?? null;
        if (o.usage) this.usage = { ...this.usage, ...obj(o.usage) };
        return;
      }
    }
  }

  private openaiChunk(o: Obj): void {
    if (!Array.isArray(o.choices)) return;
    this.seen = true;
    this.model ??= str(o.model);
    if (o.usage) this.usage = obj(o.usage);
    for (const c of o.choices) {
      const choice = obj(c);
      // the first choice is the answer (n > 1 is rare); the others are not assembled
      if (Number(choice.index ?? 0) !== 0) continue;
      const d = obj(choice.delta);
      if (str(d.role)) this.role = str(d.role)!;
      if (typeof d.content === 'string') this.append('text', 'text', d.content);
      for (const t of Array.isArray(d.tool_calls) ? d.tool_calls : []) {
        const call = obj(t);
        const key = `tool${Number(call.index ?? 0)}`;
        const fn = obj(call.function);
        const b = this.blocks.get(key);
        if (!b || b.type !== 'tool_call') this.blocks.set(key, { type: 'tool_call', id: str(call.id), name: str(fn.name), args: '' });
        this.appendArgs(key, str(fn.arguments) ?? '');
      }
      if (choice.finish_reason) this.stop = str(choice.finish_reason);
    }
  }

  private room(s: string): string {
    const left = this.cap - this.chars;
    if (s.length > left) this.cut = true;
    const kept = s.length > left ? s.slice(0, Math.max(0, left)) : s;
    this.chars += kept.length;
    return kept;
  }

  private append(key: string, type: 'text' | 'thinking', s: string): void {
    const b = this.blocks.get(key);
    const kept = this.room(s);
    if (b && b.type !== 'tool_call') b.text += kept;
    else if (!b) this.blocks.set(key, { type, text: kept });
  }

  private appendArgs(key: string, s: string): void {
    const b = this.blocks.get(key);
    if (b?.type === 'tool_call') b.args += this.room(s);
  }
}

function parsed(args: string): unknown {
  if (!args) return {};
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return args;
  }
}

/** What the record keeps of an LLM request: model, limits, system, each message's role and content, the tools' names. */
export function llmRequest(api: LlmApi, body: string): Obj | null {
  const o = jsonObject(body);
  if (!o) return null;
  if (!Array.isArray(o.messages)) return null;
  const out: Obj = { api, model: o.model };
  for (const k of ['max_tokens', 'max_completion_tokens', 'stream', 'temperature']) if (o[k] !== undefined) out[k] = o[k];
  if (o.system !== undefined) out.system = typeof o.system === 'string' ? o.system : contentOf(o.system);
  out.messages = o.messages.map((m) => {
    const msg = obj(m);
    const entry: Obj = { role: msg.role, content: typeof msg.content === 'string' ? msg.content : contentOf(msg.content) };
    if (Array.isArray(msg.tool_calls)) entry.tool_calls = msg.tool_calls.map((c) => ({ name: obj(obj(c).function).name, arguments: obj(obj(c).function).arguments }));
    if (msg.tool_call_id !== undefined) entry.tool_call_id = msg.tool_call_id;
    return entry;
  });
  if (Array.isArray(o.tools)) out.tools = o.tools.map((t) => str(obj(t).name) ?? str(obj(obj(t).function).name) ?? str(obj(t).type) ?? '?');
  return out;
}

/** Content blocks with their words kept and their payloads (images, documents) named only. */
function contentOf(v: unknown): unknown {
  if (!Array.isArray(v)) return v ?? null;
  return v.map((b) => {
    const block = obj(b);
    switch (block.type) {
      case 'text':
        return { type: 'text', text: block.text };
      case 'tool_use':
        return { type: 'tool_use', name: block.name, input: block.input };
      case 'tool_result':
        return { type: 'tool_result', tool_use_id: block.tool_use_id, content: typeof block.content === 'string' ? block.content : contentOf(block.content) };
      default:
        return { type: block.type };
    }
  });
}
