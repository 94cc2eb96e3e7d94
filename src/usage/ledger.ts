// The usage ledger: LLM tokens per UTC day, connection and identity, in the store, and the
// reservations that keep a budget under concurrency. A request holds its worst case
// (`reserved`) before it leaves; the hold is a conditional UPDATE that only succeeds while
// used + held + asked <= limit, so two requests (on one gateway or on replicas sharing a
// Postgres store) cannot both take the last tokens: Postgres re-checks the condition on the
// row another transaction just committed, SQLite runs one writer at a time. The connection's
// row ('*') is always taken first, which orders every request on a connection.
// Each hold is also a row of its own with a lease the serving gateway renews: when a gateway
// dies mid-request its holds expire, and a request refused on that connection first releases
// expired holds and tries once more. Settling a hold that was released counts the usage only.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

export interface Limits {
  tokensPerDay?: number;
  perIdentityTokensPerDay?: number;
}

export interface Who {
  /** `${kind}:${subject}` */
  key: string;
  name: string;
}

/** Tokens held for one request in flight; settled once. */
export interface Reservation {
  id: string;
  day: string;
  connection: string;
  identity: string;
  tokens: number;
}

export interface BudgetRefusal {
  scope: 'connection' | 'identity';
  limit: number;
  /** tokens counted and held at the time of refusal */
  used: number;
  /** ISO time of the next UTC midnight */
  resetsAt: string;
}

export type Hold = { ok: true; reservation: Reservation } | { ok: false; refusal: BudgetRefusal };

export interface UsageRow {
  day: string;
  connection: string;
  identity: string;
  identityName: string;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  requests: number;
  refused: number;
  /** tokens held right now by requests in flight */
  reserved: number;
}

export interface UsageQuery {
  /** first day (YYYY-MM-DD), inclusive */
  since?: string;
  /** last day (YYYY-MM-DD), inclusive */
  until?: string;
  connection?: string;
  /** an identity key (`kind:subject`) or name */
  identity?: string;
}

/** Usage of requests that held nothing, summed for one day, connection and identity. */
export interface CountedUsage {
  day: string;
  connection: string;
  who: Who;
  input: number;
  output: number;
  requests: number;
}

const TOTAL = '*';

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function nextMidnight(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString();
}

class Refused extends Error {
  constructor(readonly scope: 'connection' | 'identity') {
    super(scope);
  }
}

/** How long a hold lives without renewal (the gateway renews it every third of this). */
export const LEASE_MS = 5 * 60_000;

export class UsageLedger {
  constructor(
    private readonly db: Kysely<Database>,
    readonly leaseMs = LEASE_MS,
  ) {}

  /** Hold `tokens` for a request of `who` on `connection` today, or say which budget refuses it. */
  async reserve(connection: string, who: Who, tokens: number, limits: Limits, now = Date.now()): Promise<Hold> {
    const first = await this.tryReserve(connection, who, tokens, limits, now);
    if (first.ok || (await this.releaseExpired(connection, now)) === 0) return first.ok ? first : { ok: false, refusal: await this.refusal(first.day, connection, who, first.scope, limits) };
    const again = await this.tryReserve(connection, who, tokens, limits, now);
    return again.ok ? again : { ok: false, refusal: await this.refusal(again.day, connection, who, again.scope, limits) };
  }

  private async tryReserve(connection: string, who: Who, tokens: number, limits: Limits, now: number): Promise<{ ok: true; reservation: Reservation } | { ok: false; day: string; scope: 'connection' | 'identity' }> {
    const day = utcDay(now);
    const id = randomUUID();
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('llm_usage')
          .values([
            { day, connection, identity: TOTAL, identity_name: TOTAL },
            { day, connection, identity: who.key, identity_name: who.name },
          ])
          .onConflict((oc) => oc.columns(['day', 'connection', 'identity']).doNothing())
          .execute();
        await hold(tx, day, connection, who.key, tokens, limits);
        await tx.insertInto('llm_holds').values({ id, day, connection, identity: who.key, tokens, expires_at: now + this.leaseMs }).execute();
      });
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      return { ok: false, day, scope: e.scope };
    }
    return { ok: true, reservation: { id, day, connection, identity: who.key, tokens } };
  }

  /** Keep a hold of a request still running. */
  async renew(r: Reservation, now = Date.now()): Promise<void> {
    await this.db.updateTable('llm_holds').set({ expires_at: now + this.leaseMs }).where('id', '=', r.id).execute();
  }

  /** Release the holds on a connection whose lease ran out (their gateway is gone); how many. */
  async releaseExpired(connection: string, now = Date.now()): Promise<number> {
    const expired = await this.db.selectFrom('llm_holds').select('id').where('connection', '=', connection).where('expires_at', '<', now).execute();
    let released = 0;
    for (const { id } of expired) {
      await this.db.transaction().execute(async (tx) => {
        // deleted by whoever gets there first: a settle, or another replica's sweep
        const gone = await tx.deleteFrom('llm_holds').where('id', '=', id).where('expires_at', '<', now).returning(['day', 'identity', 'tokens']).executeTakeFirst();
        if (!gone) return;
        released++;
        for (const identity of [TOTAL, gone.identity]) {
          await tx
            .updateTable('llm_usage')
            .set((eb) => ({ reserved: eb('reserved', '-', Number(gone.tokens)) }))
            .where('day', '=', gone.day)
            .where('connection', '=', connection)
            .where('identity', '=', identity)
            .execute();
        }
      });
    }
    return released;
  }

  /** Hold `extra` more tokens for a request in flight (its real input was larger than estimated); false when a budget refuses. */
  async grow(r: Reservation, extra: number, limits: Limits): Promise<boolean> {
    try {
      await this.db.transaction().execute(async (tx) => {
        await hold(tx, r.day, r.connection, r.identity, extra, limits);
        const kept = await tx.updateTable('llm_holds').set((eb) => ({ tokens: eb('tokens', '+', extra) })).where('id', '=', r.id).executeTakeFirst();
        // the hold expired and was released: it cannot grow (the request is cut)
        if (Number(kept.numUpdatedRows) === 0) throw new Refused('connection');
      });
    } catch (e) {
      if (e instanceof Refused) return false;
      throw e;
    }
    r.tokens += extra;
    return true;
  }

  /** Release the hold (unless it expired and was released already) and count what the request really used. */
  async settle(r: Reservation, used: { input: number; output: number }): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const held = Number((await tx.deleteFrom('llm_holds').where('id', '=', r.id).executeTakeFirst()).numDeletedRows) > 0 ? r.tokens : 0;
      for (const identity of [TOTAL, r.identity]) {
        await tx
          .updateTable('llm_usage')
          .set((eb) => ({
            reserved: eb('reserved', '-', held),
            input_tokens: eb('input_tokens', '+', used.input),
            output_tokens: eb('output_tokens', '+', used.output),
            requests: eb('requests', '+', 1),
          }))
          .where('day', '=', r.day)
          .where('connection', '=', r.connection)
          .where('identity', '=', identity)
          .execute();
      }
    });
  }

  /** Count requests that held nothing (connections without a budget), summed per day, connection and identity: one upsert per row, one transaction. */
  async count(rows: CountedUsage[]): Promise<void> {
    if (!rows.length) return;
    await this.db.transaction().execute(async (tx) => {
      for (const r of rows) {
        for (const [identity, name] of [[TOTAL, TOTAL], [r.who.key, r.who.name]] as const) {
          await tx
            .insertInto('llm_usage')
            .values({ day: r.day, connection: r.connection, identity, identity_name: name, input_tokens: r.input, output_tokens: r.output, requests: r.requests })
            .onConflict((oc) =>
              oc.columns(['day', 'connection', 'identity']).doUpdateSet((eb) => ({
                input_tokens: eb('llm_usage.input_tokens', '+', r.input),
                output_tokens: eb('llm_usage.output_tokens', '+', r.output),
                requests: eb('llm_usage.requests', '+', r.requests),
              })),
            )
            .execute();
        }
      }
    });
  }

  async list(q: UsageQuery = {}): Promise<UsageRow[]> {
    let query = this.db.selectFrom('llm_usage').selectAll().where('identity', '<>', TOTAL);
    if (q.since) query = query.where('day', '>=', q.since);
    if (q.until) query = query.where('day', '<=', q.until);
    if (q.connection) query = query.where('connection', '=', q.connection);
    if (q.identity) {
      const id = q.identity;
      query = query.where((eb) => eb.or([eb('identity', '=', id), eb('identity_name', '=', id)]));
    }
    const rows = await query.orderBy('day', 'desc').orderBy('connection').orderBy('identity_name').execute();
    return rows.map((r) => ({
      day: r.day,
      connection: r.connection,
      identity: r.identity,
      identityName: r.identity_name,
      inputTokens: Number(r.input_tokens),
      outputTokens: Number(r.output_tokens),
      totalTokens: Number(r.input_tokens) + Number(r.output_tokens),
      requests: Number(r.requests),
      refused: Number(r.refused),
      reserved: Number(r.reserved),
    }));
  }

  /** Count the refusal and say what was used against which limit. */
  private async refusal(day: string, connection: string, who: Who, scope: 'connection' | 'identity', limits: Limits): Promise<BudgetRefusal> {
    const key = scope === 'connection' ? TOTAL : who.key;
    // An upsert: the identity's row may not exist yet (the hold that would have made it was
    // rolled back with the refusal, or another replica's is not committed), and an UPDATE
    // would then count nothing: under a race most refusals went uncounted.
    await this.db
      .insertInto('llm_usage')
      .values({ day, connection, identity: who.key, identity_name: who.name, refused: 1 })
      .onConflict((oc) => oc.columns(['day', 'connection', 'identity']).doUpdateSet((eb) => ({ refused: eb('llm_usage.refused', '+', 1) })))
      .execute();
    const row = await this.db
      .selectFrom('llm_usage')
      .select(['input_tokens', 'output_tokens', 'reserved'])
      .where('day', '=', day)
      .where('connection', '=', connection)
      .where('identity', '=', key)
      .executeTakeFirst();
    const used = row ? Number(row.input_tokens) + Number(row.output_tokens) + Number(row.reserved) : 0;
    const limit = (scope === 'connection' ? limits.tokensPerDay : limits.perIdentityTokensPerDay) ?? 0;
    return { scope, limit, used, resetsAt: nextMidnight(day) };
  }
}

/** Add `tokens` to the held amount of the connection's row, then the identity's, each only within its limit. */
async function hold(tx: Transaction<Database>, day: string, connection: string, identity: string, tokens: number, limits: Limits): Promise<void> {
  const rows: [string, number | undefined, 'connection' | 'identity'][] = [
    [TOTAL, limits.tokensPerDay, 'connection'],
    [identity, limits.perIdentityTokensPerDay, 'identity'],
  ];
  for (const [key, limit, scope] of rows) {
    let q = tx
      .updateTable('llm_usage')
      .set((eb) => ({ reserved: eb('reserved', '+', tokens) }))
      .where('day', '=', day)
      .where('connection', '=', connection)
      .where('identity', '=', key);
    if (limit !== undefined) q = q.where(sql<boolean>`input_tokens + output_tokens + reserved + ${tokens} <= ${limit}`);
    const res = await q.executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new Refused(scope);
  }
}
