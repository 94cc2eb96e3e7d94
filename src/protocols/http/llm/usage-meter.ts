// Token usage of one LLM answer, counted as it passes. A JSON answer says its usage at the
// end; a streamed one says it in events (Anthropic: `message_start.message.usage`, then the
// cumulative `message_delta.usage.output_tokens`; OpenAI: a last chunk's `usage`, only when
// the request asked for it; OpenAI Responses: `response.completed.response.usage`), so
// until the provider tells, output is estimated from each
// delta as it goes by. A request may produce its allowance (max_tokens, or the budget's
// defaultMaxTokens) and no more: the event that would cross it is not sent; the open blocks
// are closed, an `error` event both SDKs raise is sent, the stream ends and the target is
// aborted. The meter sees the target's bytes before masking, and sends whole events.
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { estimateTokens, type LlmApi } from './provider.ts';

/** The largest JSON answer read for its usage; a larger one counts as its whole allowance. */
const MAX_JSON = 8 << 20;
/** The largest server-sent event held to be read whole; a target sending more without an event's end is cut (bounded memory). */
const MAX_EVENT = 8 << 20;

export interface MeterLimits {
  /** output tokens the request may produce before it is cut (null: not cut) */
  maxOutput: number | null;
  /** the input the reservation assumed */
  inputEstimate: number;
  /** the real input is larger than assumed: may the request hold `extra` more tokens? */
  grow?(extra: number): Promise<boolean>;
}

export interface UsageSummary {
  api: LlmApi;
  inputTokens: number;
  outputTokens: number;
  /** the input is the gateway's estimate (the provider did not say) */
  inputEstimated: boolean;
  /** the output is counted from the deltas (the provider did not say, or not yet) */
  outputEstimated: boolean;
  /** why the answer was cut, when it was */
  cut: string | null;
}

export class UsageMeter {
  private input: number | null = null;
  private output = 0;
  private outputExact = false;
  private status = 0;
  private cutReason: string | null = null;
  /** a 2xx answer whose usage could not be read: counted as its whole allowance */
  private unread = false;
  private grown = false;
  /** open Anthropic content blocks / OpenAI choices, to close on a cut */
  private readonly open = new Set<number>();
  /** the last OpenAI chunk's envelope (id, model, created), for the closing chunk */
  private envelope: Record<string, unknown> = {};

  constructor(
    readonly api: LlmApi,
    private readonly limits: MeterLimits,
    private readonly onCut: () => void,
  ) {}

  /** A pass-through for the answer's bytes that counts them (and cuts a stream at its allowance). */
  tap(status: number, contentType: string): Transform {
    this.status = status;
    if (/^text\/event-stream/i.test(contentType)) return this.sseTap();
    return this.jsonTap();
  }

  get cut(): string | null {
    return this.cutReason;
  }

  /**
   * What the request used, for the ledger: the provider's numbers, else the counted ones (fail
   * closed when a 2xx answer is unread). No answer, or an error answer without usage: nothing
   * was generated, and providers bill none.
   */
  used(): { input: number; output: number } {
    const answered = this.status >= 200 && this.status < 300;
    const input = this.input ?? (answered ? this.limits.inputEstimate : 0);
    let output = this.output;
    if (this.unread) output = Math.max(output, this.limits.maxOutput ?? output);
    return { input, output };
  }

  summary(): UsageSummary {
    const u = this.used();
    return { api: this.api, inputTokens: u.input, outputTokens: u.output, inputEstimated: this.input === null, outputEstimated: !this.outputExact, cut: this.cutReason };
  }

  private jsonTap(): Transform {
    const parts: Buffer[] = [];
    let size = 0;
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        size += chunk.length;
        if (size <= MAX_JSON) parts.push(chunk);
        cb(null, chunk);
      },
      flush: (cb) => {
        const ok = this.status >= 200 && this.status < 300;
        let body: Record<string, unknown> | null = null;
        if (size <= MAX_JSON) {
          try {
            body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
          } catch {
            body = null;
          }
        }
        if (body && typeof body.usage === 'object' && body.usage) this.readUsage(body.usage as Record<string, unknown>);
        else if (ok) this.unread = true;
        cb();
      },
    });
  }

  private sseTap(): Transform {
    const decoder = new StringDecoder('utf8');
    let buffer = '';
    const tap: Transform = new Transform({
      transform: (chunk: Buffer, _enc, cb: TransformCallback) => {
        if (this.cutReason) return cb();
        buffer += decoder.write(chunk);
        void this.events(buffer).then(({ out, rest, cutWith }) => {
          buffer = rest;
          if (out) tap.push(out);
          if (cutWith !== null) {
            tap.push(cutWith);
            tap.push(null);
            this.onCut();
          }
          cb();
        }, cb);
      },
      flush: (cb: TransformCallback) => {
        if (this.cutReason) return cb();
        buffer += decoder.end();
        cb(null, buffer);
      },
    });
    return tap;
  }

  /** The whole events in `text`: what to send, what is left, and the end of a cut stream. */
  private async events(text: string): Promise<{ out: string; rest: string; cutWith: string | null }> {
    let out = '';
    for (;;) {
      const m = /\r?\n\r?\n/.exec(text);
      if (!m && text.length > MAX_EVENT) {
        this.cutReason = `the target sent more than ${MAX_EVENT} bytes without ending an event`;
        this.unread = true;
        return { out, rest: '', cutWith: this.closing(this.cutReason) };
      }
      if (!m) return { out, rest: text, cutWith: null };
      const event = text.slice(0, m.index + m[0].length);
      text = text.slice(m.index + m[0].length);
      const why = await this.onEvent(event);
      if (why) {
        this.cutReason = why;
        return { out, rest: '', cutWith: this.closing(why) };
      }
      out += event;
    }
  }

  /** Count one event; a reason when it must not be sent (the request's allowance is used up). */
  private async onEvent(event: string): Promise<string | null> {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(l[5] === ' ' ? 6 : 5))
      .join('\n');
    if (!data || data === '[DONE]') return null;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return null;
    }
    const adds = this.api === 'anthropic' ? this.anthropic(obj) : this.api === 'openai' ? this.openai(obj) : this.responses(obj);
    if (this.input !== null && this.input > this.limits.inputEstimate && !this.grown && this.limits.grow) {
      this.grown = true;
      if (!(await this.limits.grow(this.input - this.limits.inputEstimate))) return `the request's input (${this.input} tokens) is larger than reserved and the budget has no room for the rest`;
    }
    const max = this.limits.maxOutput;
    if (adds > 0 && max !== null && this.output + adds > max) {
      return `the answer reached its output allowance of ${max} tokens (max_tokens, or budget.defaultMaxTokens when the request names none)`;
    }
    this.output += adds;
    return null;
  }

  /** Anthropic Messages events; returns the output tokens this delta adds (estimated). */
  private anthropic(obj: Record<string, unknown>): number {
    switch (obj.type) {
      case 'message_start': {
        const usage = (obj.message as Record<string, unknown> | undefined)?.usage;
        if (usage && typeof usage === 'object') this.readUsage(usage as Record<string, unknown>, false);
        return 0;
      }
      case 'content_block_start':
        this.open.add(Number(obj.index));
        return 0;
      case 'content_block_stop':
        this.open.delete(Number(obj.index));
        return 0;
      case 'content_block_delta': {
        const d = (obj.delta ?? {}) as Record<string, unknown>;
        const text = [d.text, d.partial_json, d.thinking].find((v) => typeof v === 'string') as string | undefined;
        return this.outputExact ? 0 : estimateTokens(text ?? '');
      }
      case 'message_delta': {
        const usage = obj.usage;
        if (usage && typeof usage === 'object') this.readUsage(usage as Record<string, unknown>);
        return 0;
      }
      default:
        return 0;
    }
  }

  private openai(obj: Record<string, unknown>): number {
    let adds = 0;
    if (Array.isArray(obj.choices)) {
      this.envelope = { id: obj.id, object: obj.object, created: obj.created, model: obj.model };
      for (const c of obj.choices as Record<string, unknown>[]) {
        const index = Number(c.index ?? 0);
        this.open.add(index);
        const d = (c.delta ?? {}) as Record<string, unknown>;
        for (const v of [d.content, d.refusal, d.reasoning_content]) if (typeof v === 'string') adds += estimateTokens(v);
        if (Array.isArray(d.tool_calls)) for (const t of d.tool_calls as { function?: { arguments?: unknown } }[]) if (typeof t.function?.arguments === 'string') adds += estimateTokens(t.function.arguments);
        if (c.finish_reason) this.open.delete(index);
      }
    }
    if (obj.usage && typeof obj.usage === 'object') this.readUsage(obj.usage as Record<string, unknown>);
    return this.outputExact ? 0 : adds;
  }

  /** OpenAI Responses events: `*.delta` strings as they stream, the usage in the final `response.*` event. */
  private responses(obj: Record<string, unknown>): number {
    const usage = (obj.response as Record<string, unknown> | undefined)?.usage;
    if (usage && typeof usage === 'object') this.readUsage(usage as Record<string, unknown>);
    if (typeof obj.type === 'string' && obj.type.endsWith('.delta') && typeof obj.delta === 'string') return this.outputExact ? 0 : estimateTokens(obj.delta);
    return 0;
  }

  /** The provider's own numbers (either API's field names); output only when `final`. */
  private readUsage(u: Record<string, unknown>, final = true): void {
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
    if ('input_tokens' in u || 'prompt_tokens' in u) {
      // cached input is input too: a budget counts every token the provider reads
      this.input = n(u.input_tokens) + n(u.cache_creation_input_tokens) + n(u.cache_read_input_tokens) + n(u.prompt_tokens);
    }
    const out = 'output_tokens' in u ? n(u.output_tokens) : 'completion_tokens' in u ? n(u.completion_tokens) : null;
    if (out !== null && final) {
      this.output = out;
      this.outputExact = true;
    }
  }

  /** The events that end a cut stream: open blocks closed, then an error the SDKs raise. */
  private closing(why: string): string {
    let out = '';
    for (const index of this.open) {
      if (this.api === 'anthropic') out += `event: content_block_stop\ndata: ${JSON.stringify({ type: 'content_block_stop', index })}\n\n`;
      else out += `data: ${JSON.stringify({ ...this.envelope, choices: [{ index, delta: {}, finish_reason: 'length' }] })}\n\n`;
    }
    const error = { type: 'error', error: { type: 'rate_limit_error', code: 'budget_exceeded', message: `warden: cut: ${why}` } };
    return `${out}event: error\ndata: ${JSON.stringify(error)}\n\n`;
  }
}
