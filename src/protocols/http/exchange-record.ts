// The result row the record keeps of one HTTP exchange. Columns, in order:
//   request_body      the request body up to the cap, masked
//   response_body     the response body as the client got it (masked text), a note for a body
//                     that is not text; null for server-sent events (they are in response_events)
//   response_headers  the response headers, credentials redacted (JSON)
//   response_events   server-sent events as the client got them (JSON: [{t, event, data}], t in
//                     ms from the start of the request), up to the cap; null for other bodies
//   llm_request       an LLM call's request: model, limits, system, messages, tool names (JSON, masked)
//   llm_response      the LLM's answer assembled: role, text, tool calls with their arguments,
//                     stop reason, usage (JSON, from what the client got, so masked)
import type { IncomingHttpHeaders } from 'node:http';
import type { Masker } from '../../masking/index.ts';
import type { ResultColumn } from '../../session/types.ts';
import { BodySample, redactedHeaders } from './body-record.ts';
import { llmRequest, type LlmApi, type ResponseAssembler } from './llm-message.ts';
import type { SseRecorder } from './sse-record.ts';

export const BODY_COLUMNS: ResultColumn[] = ['request_body', 'response_body', 'response_headers', 'response_events', 'llm_request', 'llm_response'].map((name) => ({ name }));

/** What came of one forwarded request, for the record. */
export interface Exchange {
  status: number;
  masked: boolean;
  startedAt: number;
  request: BodySample;
  /** the response body as the client got it (text only); null when it is not text */
  response: BodySample | null;
  responseBytes: number;
  headers: IncomingHttpHeaders;
  /** the events of a server-sent event stream */
  events?: SseRecorder | null;
  /** the LLM answer being assembled (an LLM API's request) */
  llm?: ResponseAssembler | null;
  /** why the body is not text: `binary`, or the refusal's reason */
  note?: string;
  /** why the gateway ended the answer early (what went out before is in the record) */
  cut?: string;
}

export interface ExchangeRecord {
  columns: ResultColumn[];
  rows: (string | null)[][];
  truncated?: true;
  maskedColumns?: string[];
  error?: { message: string };
}

export function exchangeRecord(x: Exchange, masker: Masker | null, api: LlmApi | null): ExchangeRecord {
  const requestText = x.request.text();
  const request = masker ? masker.maskText(requestText) : requestText;
  let response: string | null;
  if (x.events) response = null;
  else if (x.response) response = x.response.text();
  else response = `(${x.responseBytes} bytes, ${x.note ?? 'not text'})`;

  let llmReq: string | null = null;
  if (api && !x.request.truncated) {
    const summary = llmRequest(api, requestText);
    if (summary) llmReq = JSON.stringify(masker ? masker.maskJson(summary) : summary);
  }
  // A JSON answer is read back from what the client got, when the record holds it whole.
  if (x.llm && !x.events && x.response && !x.response.truncated) x.llm.json(x.response.text());
  const assembled = x.llm?.result() ?? null;
  const events = x.events ? JSON.stringify(x.events.events) : null;

  const masked: string[] = [];
  if (x.masked) masked.push(x.events ? 'response_events' : 'response_body');
  if (x.masked && assembled) masked.push('llm_response');
  const truncated = x.request.truncated || x.response?.truncated || x.events?.truncated || assembled?.truncated;
  return {
    columns: BODY_COLUMNS,
    rows: [[request, response, JSON.stringify(redactedHeaders(x.headers)), events, llmReq, assembled ? JSON.stringify(assembled) : null]],
    ...(truncated ? { truncated: true as const } : {}),
    ...(masked.length ? { maskedColumns: masked } : {}),
    ...(x.cut ? { error: { message: `warden: ${x.cut}` } } : {}),
  };
}
