// Review notifications: each review event is POSTed to every configured webhook, signed,
// and retried with exponential backoff. Delivery never holds up a command or a vote.
//
// Signature (documented in README, "Reviews"): the receiver computes
//   HMAC-SHA256(secret, `${X-Warden-Timestamp}.${raw body}`)
// and compares its hex with `X-Warden-Signature: sha256=<hex>`; the timestamp (Unix
// seconds) lets it refuse replays older than a few minutes.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { parseDuration } from '../config/duration.ts';
import type { WebhookConfig } from './config.ts';
import type { Review } from './types.ts';

export interface ReviewEvent {
  /** review.created | review.approved | review.rejected | review.used | review.expired | review.voted */
  type: string;
  review: Review;
  /** who caused it (a voter, the requester, "system") */
  actor: string;
  comment?: string | null;
  /** where people approve: the CLI line and the API URL */
  approve: { cli: string; api: string; console?: string };
}

export function sign(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function payload(e: ReviewEvent, format: 'json' | 'slack'): unknown {
  const r = e.review;
  if (format === 'json') return { event: e.type, actor: e.actor, comment: e.comment ?? null, review: r, approve: e.approve, ts: new Date().toISOString() };
  const what = r.kind === 'access' ? `access to *${r.connection}* for ${Math.round((r.durationMs ?? 0) / 60_000)} min` : `a command on *${r.connection}*`;
  const verb = e.type.replace(/^review\./, '');
  const text = `Review ${r.id} ${verb}: ${r.requester.name} asks for ${what} (${r.approvals}/${r.approvalsNeeded} approvals, status ${r.status})`;
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (r.command) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: '```' + r.command.slice(0, 2900) + '```' } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${r.reason}${e.comment ? ` — ${e.actor}: ${e.comment}` : ''}` }] });
  if (r.status === 'pending') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${e.approve.console ? `<${e.approve.console}|Open in the console> · ` : ''}Approve: \`${e.approve.cli}\` or POST ${e.approve.api}` }] });
  return { text, blocks };
}

export class Notifier {
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly hooks: readonly WebhookConfig[],
    private readonly log?: Logger,
    /** told when a hook gave up after its last attempt (the desk audits it) */
    private readonly onGiveUp?: (hook: string, e: ReviewEvent, error: string) => void,
  ) {}

  notify(e: ReviewEvent): void {
    if (this.closed) return;
    for (const hook of this.hooks) {
      const p = this.deliver(hook, e).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  private async deliver(hook: WebhookConfig, e: ReviewEvent): Promise<void> {
    const body = JSON.stringify(payload(e, hook.format));
    let delay = parseDuration(hook.backoff);
    let lastError = '';
    for (let attempt = 1; attempt <= hook.maxAttempts && !this.closed; attempt++) {
      // a fresh timestamp per attempt: receivers refusing old timestamps accept retries
      const ts = String(Math.floor(Date.now() / 1000));
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'warden-webhooks', 'x-warden-event': e.type, 'x-warden-timestamp': ts, 'x-warden-signature': sign(hook.secret, ts, body) },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel().catch(() => {});
        if (res.ok) return;
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        lastError = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      }
      this.log?.warn({ webhook: redactUrl(hook.url), event: e.type, review: e.review.id, attempt, error: lastError }, 'webhook delivery failed');
      if (attempt < hook.maxAttempts) {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 60_000);
      }
    }
    this.onGiveUp?.(redactUrl(hook.url), e, lastError);
  }

  /** Stop: attempts in flight finish, no retry starts after this, later events are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
  }

  /** Resolves when every delivery started so far has finished (delivered or given up). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }
}

/** Webhook URLs (Slack's especially) carry their secret in the path: log the host only. */
function redactUrl(u: string): string {
  try {
    const x = new URL(u);
    return `${x.protocol}//${x.host}/…`;
  } catch {
    return '(invalid url)';
  }
}
