// The filters of a usage listing (API and CLI): a day range, a connection, an identity.
// `since` takes a day (2026-12-01) or a span back from today (7d); `until` a day.
import type { UsageQuery } from './ledger.ts';
import { utcDay } from './ledger.ts';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class UsageQueryError extends Error {}

export function parseUsageQuery(q: { since?: unknown; until?: unknown; connection?: unknown; identity?: unknown }, now = Date.now()): UsageQuery {
  const out: UsageQuery = {};
  if (q.since !== undefined) out.since = day('since', String(q.since), now);
  if (q.until !== undefined) out.until = day('until', String(q.until), now);
  if (out.since && out.until && out.since > out.until) throw new UsageQueryError(`since (${out.since}) is after until (${out.until})`);
  if (q.connection !== undefined && String(q.connection)) out.connection = String(q.connection);
  if (q.identity !== undefined && String(q.identity)) out.identity = String(q.identity);
  return out;
}

function day(key: string, v: string, now: number): string {
  if (DAY.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`))) return v;
  const span = /^(\d{1,4})d$/.exec(v);
  // `1d` is today, `7d` today and the six days before
  if (span && Number(span[1]) >= 1) return utcDay(now - (Number(span[1]) - 1) * 86_400_000);
  throw new UsageQueryError(`${key}: expected a UTC day (YYYY-MM-DD) or a number of days (7d), got ${JSON.stringify(v)}`);
}
