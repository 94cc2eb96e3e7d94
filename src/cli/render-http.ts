// The human view of an HTTP exchange in a replay: instead of a table of JSON cells, the LLM
// call as a conversation (the request's messages, the answer's text and tool calls, stop
// reason and usage), the server-sent events one a line with their time, and the bodies
// shortened. `--json` keeps the row as recorded (src/protocols/http/exchange-record.ts).
import { shorten } from './render.ts';

type Obj = Record<string, unknown>;

const EVENTS_SHOWN = 12;

function parse(v: string | null | undefined): unknown {
  if (v === null || v === undefined) return null;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Lines for one HTTP result row, by column name. */
export function renderHttpRow(columns: string[], row: (string | null)[]): string[] {
  const cell = (name: string) => row[columns.indexOf(name)] ?? null;
  const out: string[] = [];
  const req = parse(cell('llm_request')) as Obj | null;
  const res = parse(cell('llm_response')) as Obj | null;
  if (req && typeof req === 'object') {
    const facts = [`model ${String(req.model)}`];
    if (req.max_tokens !== undefined) facts.push(`max_tokens ${String(req.max_tokens)}`);
    if (req.stream) facts.push('stream');
    if (Array.isArray(req.tools) && req.tools.length) facts.push(`tools ${req.tools.join(', ')}`);
    out.push(`LLM request (${String(req.api)}): ${facts.join(', ')}`);
    if (req.system) out.push(`  system: ${shorten(text(req.system))}`);
    for (const m of Array.isArray(req.messages) ? (req.messages as Obj[]) : []) out.push(`  ${String(m.role)}: ${shorten(text(m.content ?? m.tool_calls ?? ''))}`);
  } else {
    const body = cell('request_body');
    if (body) out.push(`request: ${shorten(body)}`);
  }
  if (res && typeof res === 'object') {
    const usage = res.usage ? ` usage ${Object.entries(res.usage as Obj).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : '';
    out.push(`LLM answer (${String(res.role)}${res.model ? `, ${String(res.model)}` : ''}): stop ${String(res.stop_reason ?? '-')}${usage}${res.truncated ? ' (record truncated)' : ''}`);
    for (const b of Array.isArray(res.content) ? (res.content as Obj[]) : []) {
      if (b.type === 'tool_call') out.push(`  tool call ${String(b.name)}(${shorten(text(b.arguments), 90)})`);
      else out.push(`  ${String(b.type)}: ${shorten(String(b.text))}`);
    }
  }
  const events = parse(cell('response_events'));
  if (Array.isArray(events)) {
    out.push(`events: ${events.length}${events.length > EVENTS_SHOWN ? ` (first ${EVENTS_SHOWN} shown)` : ''}`);
    for (const e of (events as Obj[]).slice(0, EVENTS_SHOWN)) out.push(`  +${String(e.t)}ms ${e.event ? `${String(e.event)} ` : ''}${shorten(gist(String(e.data)), 90)}`);
  } else if (!res) {
    const body = cell('response_body');
    if (body !== null) out.push(`response: ${shorten(body)}`);
  }
  const headers = parse(cell('response_headers')) as Obj | null;
  if (headers && typeof headers === 'object' && headers['content-type']) out.push(`content-type: ${String(headers['content-type'])}`);
  return out;
}

/** An LLM delta event as the words it carries (`[1] partial_json "{\"to\": ..."`); any other event as its data. */
function gist(data: string): string {
  const o = parse(data) as Obj | null;
  if (!o || typeof o !== 'object') return data;
  const d = o.delta as Obj | undefined;
  if (o.type === 'content_block_delta' && d) {
    const [field, value] = Object.entries(d).find(([k]) => k !== 'type') ?? ['', ''];
    return `[${String(o.index)}] ${field} ${JSON.stringify(value)}`;
  }
  const choice = Array.isArray(o.choices) ? (o.choices[0] as Obj | undefined) : undefined;
  const cd = choice?.delta as Obj | undefined;
  if (cd) {
    const calls = Array.isArray(cd.tool_calls) ? (cd.tool_calls as Obj[]).map((c) => (c.function as Obj | undefined)?.arguments ?? '').join('') : '';
    const words = typeof cd.content === 'string' && cd.content ? `content ${JSON.stringify(cd.content)}` : calls ? `arguments ${JSON.stringify(calls)}` : '';
    return `${words}${choice?.finish_reason ? ` finish ${String(choice.finish_reason)}` : ''}`.trim() || data;
  }
  return data;
}
