// warden.yaml's `reviews:` section (top level) and a connection's `reviews:` (per
// connection). Defaults sit next to each key; a rule's own `review:` spec wins over them.
import { z } from 'zod';
import { parseDuration } from '../config/duration.ts';

const duration = z.string().refine((t) => {
  try {
    return parseDuration(t) > 0;
  } catch {
    return false;
  }
}, 'expected a duration like 30s, 15m, 1h');

const groups = z.array(z.string().min(1)).min(1);

export const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** HMAC-SHA256 key; receivers check `X-Warden-Signature` with it (use ${env:...}) */
  secret: z.string().min(16, 'use a secret of at least 16 characters'),
  /** json: the review event as JSON; slack: `{ text, blocks }` for a Slack incoming webhook */
  format: z.enum(['json', 'slack']).default('json'),
  /** attempts per event, with exponential backoff between them */
  maxAttempts: z.number().int().min(1).max(10).default(5),
  /** first backoff; doubled after each failed attempt (max 1 min) */
  backoff: duration.default('500ms'),
});

export const reviewsConfigSchema = z
  .strictObject({
    /** approver groups when a rule (or onUnknown) holds a command without naming any */
    approvers: groups.default(['approver']),
    /** distinct approvals needed when the rule does not say */
    approvals: z.number().int().min(1).default(1),
    /** how long a review stays open, and how long an approval stays usable, by default */
    timeout: duration.default('15m'),
    /** the longest window an access request may ask for */
    maxAccess: duration.default('8h'),
    /** the gateway URL people open to approve (messages, webhooks); default: the HTTP listener */
    url: z.string().optional(),
    webhooks: z.array(webhookSchema).default([]),
  })
  .prefault({});

export const connectionReviewsSchema = z
  .strictObject({
    /** hold a command that needs review for up to this long and run it on approval (e.g. 30s); off by default */
    wait: duration.optional(),
    /** approvers of this connection's access requests and of its rules that name none */
    approvers: groups.optional(),
  })
  .prefault({});

export type ReviewsConfig = z.infer<typeof reviewsConfigSchema>;
export type ConnectionReviews = z.infer<typeof connectionReviewsSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
