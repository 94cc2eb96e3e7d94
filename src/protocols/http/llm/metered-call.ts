// One LLM request through the proxy, metered: the engine's single entry to usage and budgets.
// Before the request leaves: on a budgeted connection its JSON body is read (model,
// max_tokens), its worst case (input estimate + max_tokens, or budget.defaultMaxTokens) is
// held in the ledger, or it is refused with a 429 naming the budget. While the answer
// passes: the meter counts it and cuts a stream at the allowance. At the end, whatever
// happened (done, cut, client gone, target failed): the hold is released and what was
// counted is settled. A connection without a budget is counted the same, never refused.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transform } from 'node:stream';
import type { HttpConnectionConfig } from '../../../config/schema.ts';
import type { Identity } from '../../../identity/types.ts';
import type { BudgetRefusal, Hold, Limits, Reservation, Who } from '../../../usage/ledger.ts';
import { estimateInput, llmApiOf, readAsk, type LlmAsk } from './provider.ts';
import { readBudgetBody } from './request-body.ts';
import type { RequestBody } from '../request-body.ts';
import { UsageMeter, type UsageSummary } from './usage-meter.ts';

/** The ledger as the engine needs it (src/usage/ledger.ts). */
export interface BudgetLedger {
  reserve(connection: string, who: Who, tokens: number, limits: Limits): Promise<Hold>;
  grow(r: Reservation, extra: number, limits: Limits): Promise<boolean>;
  settle(r: Reservation, used: { input: number; output: number }): Promise<void>;
  /** count a request that held nothing (no budget) */
  count(connection: string, who: Who, used: { input: number; output: number }): Promise<void>;
  /** keep the hold of a request still running (its lease, leaseMs) */
  renew(r: Reservation): Promise<void>;
  readonly leaseMs: number;
}

export interface MeteredCall {
  /** the request body, read before it left (budgeted connections); sent upstream as it is */
  body: Buffer | null;
  /** a pass-through for the answer; `abort` stops the target once the client has the end */
  tap(status: number, contentType: string, abort: () => void): Transform;
  /** for the session record */
  summary(): UsageSummary & { model: string | null; reserved: number };
  /** release the hold and count the usage; once */
  settle(): Promise<void>;
}

export type Opened = { ok: true; call: MeteredCall | null } | { ok: false; status: number; message: string; budget?: BudgetRefusal & { requested: number } };

export async function openMeteredCall(p: {
  conn: HttpConnectionConfig;
  identity: Identity;
  method: string;
  targetPath: string;
  raw: IncomingMessage;
  /** what judging read of the body already (rules over body fields) */
  read?: RequestBody;
  ledger: BudgetLedger;
}): Promise<Opened> {
  const api = llmApiOf(p.method, p.targetPath);
  if (!api) return { ok: true, call: null };
  const budget = p.conn.budget;
  const who: Who = { key: `${p.identity.kind}:${p.identity.subject}`, name: p.identity.name };
  let ask: LlmAsk = { model: null, stream: false, maxTokens: null };
  let body: Buffer | null = null;
  let inputEstimate: number;
  let maxOutput: number | null = null;
  const limits: Limits = {};
  if (budget) {
    const read = await readBudgetBody(p.raw, budget.maxRequestBytes, p.read);
    if (!read.ok) return { ok: false, status: read.status, message: read.message };
    body = read.bytes;
    ask = readAsk(read.json);
    inputEstimate = estimateInput(body.length);
    maxOutput = ask.maxTokens ?? budget.defaultMaxTokens;
    if (budget.tokensPerDay !== undefined) limits.tokensPerDay = budget.tokensPerDay;
    if (budget.perIdentityTokensPerDay !== undefined) limits.perIdentityTokensPerDay = budget.perIdentityTokensPerDay;
  } else {
    // not read (nothing to hold): the declared length stands in when the provider says no input
    inputEstimate = estimateInput(Number(p.raw.headers['content-length']) || 0);
  }
  let settled: Promise<void> | null = null;
  if (!budget) {
    // nothing to hold: counted once the answer is done, one write after the client has it
    const meter = new UsageMeter(api, { maxOutput: null, inputEstimate }, () => {});
    return {
      ok: true,
      call: {
        body: null,
        tap: (status, contentType) => meter.tap(status, contentType),
        summary: () => ({ ...meter.summary(), model: null, reserved: 0 }),
        settle: () => (settled ??= p.ledger.count(p.conn.name, who, meter.used())),
      },
    };
  }
  const requested = inputEstimate + (maxOutput ?? 0);
  const held = await p.ledger.reserve(p.conn.name, who, requested, limits);
  if (!held.ok) {
    const r = held.refusal;
    const whose = r.scope === 'identity' ? `your budget on connection "${p.conn.name}" (budget.perIdentityTokensPerDay)` : `the budget of connection "${p.conn.name}" (budget.tokensPerDay)`;
    return {
      ok: false,
      status: 429,
      message: `${whose} is ${r.limit} tokens a day; ${r.used} are used or held, and this request needs up to ${requested}; it resets at ${r.resetsAt}`,
      budget: { ...r, requested },
    };
  }
  const reservation = held.reservation;
  let cutAbort: (() => void) | null = null;
  const meter = new UsageMeter(api, { maxOutput, inputEstimate, grow: (extra) => p.ledger.grow(reservation, extra, limits) }, () => cutAbort?.());
  // the hold lives while this request does; a gateway that dies stops renewing it
  const renewal = setInterval(() => void p.ledger.renew(reservation).catch(() => {}), Math.max(1000, p.ledger.leaseMs / 3));
  renewal.unref();
  return {
    ok: true,
    call: {
      body,
      tap(status, contentType, abort) {
        cutAbort = abort;
        return meter.tap(status, contentType);
      },
      summary: () => ({ ...meter.summary(), model: ask.model, reserved: reservation.tokens }),
      settle: () => {
        clearInterval(renewal);
        return (settled ??= p.ledger.settle(reservation, meter.used()));
      },
    },
  };
}

/** A budget refusal in the error shape both SDKs read, told not to retry before the reset. */
export function sendBudgetRefusal(res: ServerResponse, o: Extract<Opened, { ok: false }>): void {
  const error: Record<string, unknown> = { type: o.status === 429 ? 'rate_limit_error' : 'invalid_request_error', message: `warden: ${o.message}` };
  const headers: Record<string, string | number> = { 'content-type': 'application/json' };
  if (o.budget) {
    error.code = 'budget_exceeded';
    error.budget = { scope: o.budget.scope, limit: o.budget.limit, used: o.budget.used, requested: o.budget.requested, resets_at: o.budget.resetsAt };
    headers['retry-after'] = Math.max(1, Math.ceil((Date.parse(o.budget.resetsAt) - Date.now()) / 1000));
    // the SDKs retry a 429 on their own; this one does not clear until the day ends
    headers['x-should-retry'] = 'false';
  }
  const body = JSON.stringify({ type: 'error', error });
  headers['content-length'] = Buffer.byteLength(body);
  res.writeHead(o.status, headers);
  res.end(body);
}
