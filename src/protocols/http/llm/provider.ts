// Which LLM API a request speaks, known by the path it reaches on the target: Anthropic's
// Messages API, OpenAI's Chat Completions or its Responses API. Anything else is not metered.
export type LlmApi = 'anthropic' | 'openai' | 'openai-responses';

export function llmApiOf(method: string, targetPath: string): LlmApi | null {
  if (method !== 'POST') return null;
  // case ignored: a target that answers /V1/Messages too must not be an unmetered way in
  const p = targetPath.replace(/\/+$/, '').toLowerCase();
  if (p.endsWith('/v1/messages')) return 'anthropic';
  if (p.endsWith('/chat/completions')) return 'openai';
  if (p.endsWith('/v1/responses')) return 'openai-responses';
  return null;
}

/** What the request asks for, read from its JSON body. */
export interface LlmAsk {
  model: string | null;
  stream: boolean;
  /** the output the request allows itself (max_tokens, max_completion_tokens, max_output_tokens), or null */
  maxTokens: number | null;
}

export function readAsk(body: Record<string, unknown>): LlmAsk {
  const num = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);
  return {
    model: typeof body.model === 'string' ? body.model : null,
    stream: body.stream === true,
    maxTokens: num(body.max_tokens) ?? num(body.max_completion_tokens) ?? num(body.max_output_tokens),
  };
}

/**
 * Tokens in a piece of text, over-estimated on purpose: a hard cap must not let through
 * more than it allows, so a short token counts as one and a long one as a quarter of its bytes.
 */
export function estimateTokens(text: string): number {
  if (!text) return 0;
  return Math.max(1, Math.ceil(Buffer.byteLength(text) / 4));
}

/**
 * The input a request body can cost before the provider says: a third of its bytes (JSON
 * syntax and field names are most of a small body; dense text runs near four bytes a token).
 */
export function estimateInput(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 3);
}
