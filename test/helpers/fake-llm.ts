// A local server that speaks the wire format of Anthropic's Messages API (POST /v1/messages,
// `x-api-key`) and of OpenAI's Chat Completions (POST /v1/chat/completions, `Authorization:
// Bearer`), JSON or server-sent events, enough for the official SDKs, so tests drive the real
// clients through the gateway. It checks the API key it was given and keeps every request it
// got (headers, body), so tests can assert what reached the target and what did not.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** the client went away before the answer was complete */
  aborted: boolean;
}

export interface FakeLlm {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * `encoding`: the JSON answer is sent compressed, whatever the client asked for (`zstd`: only labelled so, the bytes are gzip).
 * `tool`: after the text, the answer calls this tool; its arguments (JSON text) are streamed in these fragments.
 * `dieAfterEvents`: a stream's connection is dropped after that many events (a target that fails mid-answer).
 * The answer is always `text` (max_tokens is not honoured, as a provider that overruns it would not); usage says one token a delta.
 */
export async function startFakeLlm(opts: { apiKey: string; text: string[]; eventDelayMs?: number; encoding?: 'gzip' | 'zstd'; dieAfterEvents?: number; tool?: { name: string; args: string[] } }): Promise<FakeLlm> {
  const tool = opts.tool;
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const entry: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, aborted: false };
      seen.push(entry);
      res.on('close', () => {
        if (!res.writableFinished) entry.aborted = true;
      });
      if (req.method === 'POST' && req.url?.startsWith('/v1/chat/completions')) return chat(req.headers.authorization, body, res);
      if (req.method === 'POST' && req.url?.startsWith('/v1/responses')) return responses(req.headers.authorization, body, res);
      if (req.headers['x-api-key'] !== opts.apiKey) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
      }
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'no such endpoint' } }));
      }
      const ask = JSON.parse(body || '{}') as { model?: string; stream?: boolean };
      const model = ask.model ?? 'claude-test';
      const usage = { input_tokens: 12, output_tokens: opts.text.length };
      if (!ask.stream && opts.encoding) {
        const json = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model, content: [{ type: 'text', text: opts.text.join('') }], stop_reason: 'end_turn', stop_sequence: null, usage });
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': opts.encoding });
        return res.end(gzipSync(json));
      }
      if (!ask.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const content = [{ type: 'text', text: opts.text.join('') }, ...(tool ? [{ type: 'tool_use', id: 'toolu_1', name: tool.name, input: JSON.parse(tool.args.join('')) as unknown }] : [])];
        return res.end(JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model, content, stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null, usage }));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const events: [string, unknown][] = [
        ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 0 } } }],
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
        ...opts.text.map((t): [string, unknown] => ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }]),
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        ...(tool
          ? [
              ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: tool.name, input: {} } }] as [string, unknown],
              ...tool.args.map((a): [string, unknown] => ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: a } }]),
              ['content_block_stop', { type: 'content_block_stop', index: 1 }] as [string, unknown],
            ]
          : []),
        ['message_delta', { type: 'message_delta', delta: { stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: opts.text.length } }],
        ['message_stop', { type: 'message_stop' }],
      ];
      paced(res, events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`));
    });
  });
  function paced(res: import('node:http').ServerResponse, events: string[]): void {
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      if (i === opts.dieAfterEvents) return void res.destroy();
      if (i >= events.length) return void res.end();
      res.write(events[i++]);
      setTimeout(next, opts.eventDelayMs ?? 0);
    };
    next();
  }
  function chat(authorization: string | undefined, body: string, res: import('node:http').ServerResponse): void {
    if (authorization !== `Bearer ${opts.apiKey}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
    }
    const ask = JSON.parse(body || '{}') as { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
    const base = { id: 'chatcmpl-1', created: 1_700_000_000, model: ask.model ?? 'gpt-test' };
    if (!ask.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: opts.text.join('') }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: opts.text.length, total_tokens: 9 + opts.text.length } }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta: Record<string, unknown>, finish: string | null) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    // with stream_options.include_usage, OpenAI sends the usage in a last chunk with no choices
    const usage = ask.stream_options?.include_usage ? [`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 9, completion_tokens: opts.text.length, total_tokens: 9 + opts.text.length } })}\n\n`] : [];
    const toolCall = tool
      ? [chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: tool.name, arguments: '' } }] }, null), ...tool.args.map((a) => chunk({ tool_calls: [{ index: 0, function: { arguments: a } }] }, null))]
      : [];
    paced(res, [chunk({ role: 'assistant', content: '' }, null), ...opts.text.map((t) => chunk({ content: t }, null)), ...toolCall, chunk({}, tool ? 'tool_calls' : 'stop'), ...usage, 'data: [DONE]\n\n']);
  }

  // OpenAI's Responses API: one message output; streamed as typed events ending in response.completed with the usage
  function responses(authorization: string | undefined, body: string, res: import('node:http').ServerResponse): void {
    if (authorization !== `Bearer ${opts.apiKey}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
    }
    const ask = JSON.parse(body || '{}') as { model?: string; stream?: boolean };
    const text = opts.text.join('');
    const message = { id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] };
    const response = (status: string, output: unknown[], usage: unknown) => ({ id: 'resp_1', object: 'response', created_at: 1_700_000_000, model: ask.model ?? 'gpt-test', status, output, usage });
    const usage = { input_tokens: 9, output_tokens: opts.text.length, total_tokens: 9 + opts.text.length };
    if (!ask.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(response('completed', [message], usage)));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const ev = (o: Record<string, unknown>) => `event: ${String(o.type)}\ndata: ${JSON.stringify({ ...o, sequence_number: n++ })}\n\n`;
    paced(res, [
      ev({ type: 'response.created', response: response('in_progress', [], null) }),
      ev({ type: 'response.output_item.added', output_index: 0, item: { ...message, status: 'in_progress', content: [] } }),
      ev({ type: 'response.content_part.added', item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
      ...opts.text.map((delta) => ev({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta })),
      ev({ type: 'response.output_text.done', item_id: 'msg_1', output_index: 0, content_index: 0, text }),
      ev({ type: 'response.output_item.done', output_index: 0, item: message }),
      ev({ type: 'response.completed', response: response('completed', [message], usage) }),
    ]);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
