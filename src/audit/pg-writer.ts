// The Postgres audit writer. Several gateway replicas (and the CLI) share one chain, so
// every transaction locks the one-row chain_head FOR UPDATE before reading it: writers
// queue on that row lock, and each one's batch continues the chain (and the chain of
// signed heads) the last one left. It keeps one connection of the store's pool and
// spends three round trips a batch: BEGIN + lock + the newest head, one statement
// writing everything (arrays + unnest), COMMIT.
import type pg from 'pg';
import type { SignedHeadsTable } from '../store/schema.ts';
import { type BatchItem, type BatchWritten, type ChainHead, chainBatch, type ChainedBatch, headFromRow, HeadSigner, written } from './chain.ts';
import type { HeadKind, SignedHead } from './head.ts';
import { fromPem } from './keys.ts';
import type { ChainWriter, WriterConfig } from './writer.ts';

// The newest head is read by a statement of its own, after the lock is held: in READ
// COMMITTED a statement that waited for a row lock re-reads only the locked row, so a
// join in the locking statement would see the chain head a writer just committed and
// miss the head that writer committed with it.
const LOCK = 'SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE; SELECT * FROM signed_heads ORDER BY n DESC LIMIT 1';

const INSERT_HEAD = 'INSERT INTO signed_heads (n, seq, hash, ts, prev, kind, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)';

// One statement per batch. Every session row appears in at most one of `st`/`up`
// (see SessionProjection), as Postgres forbids touching a row twice in one statement.
const WRITE = `
WITH ev AS (
  INSERT INTO events (seq, ts, type, session_id, actor, data, prev_hash, hash)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
), st AS (
  INSERT INTO sessions (id, connection, connection_type, protocol, identity_name, identity, client_addr, started_at, commands, ended_at, end_reason)
  SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[], $19::text[])
  ON CONFLICT (id) DO NOTHING
), up AS (
  UPDATE sessions AS s SET commands = s.commands + v.n, ended_at = coalesce(v.e, s.ended_at), end_reason = coalesce(v.r, s.end_reason)
  FROM unnest($20::text[], $21::bigint[], $22::text[], $23::text[]) AS v(id, n, e, r) WHERE s.id = v.id
), hd AS (
  UPDATE chain_head SET seq = $24, hash = $25 WHERE id = 1
)
${INSERT_HEAD.replace(/\$(\d)/g, (_, d: string) => `$${Number(d) + 25}`)}`;

interface Locked {
  head: ChainHead;
  top: SignedHead | null;
}

export class PgChainWriter implements ChainWriter {
  private readonly heads: HeadSigner;
  private client: pg.PoolClient | null = null;

  constructor(
    private readonly pool: pg.Pool,
    cfg: WriterConfig,
  ) {
    // Every batch is signed here (no signEvery): replicas share the chain, and a batch
    // statement that inserts its head unconditionally is one round trip.
    this.heads = new HeadSigner(fromPem(cfg.privatePem));
  }

  async write(items: BatchItem[], durable: boolean): Promise<BatchWritten> {
    const result = await this.transaction(async (c, { head, top }) => {
      const ts = new Date().toISOString();
      const batch = chainBatch(head, items, ts);
      const signed = this.heads.next('batch', head, top, batch.head, ts)!; // signEvery 0: never null
      await c.query({ name: 'warden_audit_write', text: WRITE, values: params(batch, signed) });
      return { w: written(head, batch, signed), chain: batch.head };
    }, durable);
    this.heads.committed(result.w.signed, result.chain);
    return result.w;
  }

  async sign(kind: HeadKind): Promise<SignedHead | null> {
    const [h, chain] = await this.transaction(async (c, { head, top }) => {
      const signed = this.heads.next(kind, head, top, head, new Date().toISOString());
      if (signed) await c.query(INSERT_HEAD, headValues(signed));
      return [signed, head] as const;
    }, true);
    this.heads.committed(h, chain);
    return h;
  }

  async close(): Promise<void> {
    this.client?.release();
    this.client = null;
  }

  private async transaction<T>(fn: (c: pg.PoolClient, locked: Locked) => Promise<T>, durable: boolean): Promise<T> {
    const c = await this.connection();
    try {
      // Async recording: the commit returns before its WAL flush (a crash may lose the
      // last moments, never reorder or fork the chain).
      const begin = durable ? `BEGIN; ${LOCK}` : `BEGIN; SET LOCAL synchronous_commit = off; ${LOCK}`;
      const results = (await c.query(begin)) as unknown as pg.QueryResult[];
      const row = (results[results.length - 2] as pg.QueryResult<ChainHead>).rows[0];
      const top = (results[results.length - 1] as pg.QueryResult<SignedHeadsTable>).rows[0];
      if (!row) throw new Error('the chain_head row is missing');
      const v = await fn(c, { head: { seq: Number(row.seq), hash: row.hash }, top: top ? headFromRow(top) : null });
      await c.query('COMMIT');
      return v;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => this.drop(c, e));
      throw e;
    }
  }

  private async connection(): Promise<pg.PoolClient> {
    if (this.client) return this.client;
    const c = await this.pool.connect();
    // A checked-out client that fails while idle emits 'error': without a listener the
    // process would crash. Drop it; the next batch takes a fresh connection.
    c.on('error', (e) => this.drop(c, e));
    this.client = c;
    return c;
  }

  private drop(c: pg.PoolClient, e: unknown): void {
    if (this.client !== c) return;
    this.client = null;
    c.release(e instanceof Error ? e : new Error(String(e)));
  }
}

const headValues = (h: SignedHead): unknown[] => [h.n, h.seq, h.hash, h.ts, h.prev, h.kind, h.keyId, h.signature];

function params(b: ChainedBatch, h: SignedHead): unknown[] {
  const r = b.rows;
  const starts = [...b.sessions.starts.values()];
  const ups = [...b.sessions.updates.values()];
  return [
    r.map((x) => x.seq), r.map((x) => x.ts), r.map((x) => x.type), r.map((x) => x.session_id),
    r.map((x) => x.actor), r.map((x) => x.data), r.map((x) => x.prev_hash), r.map((x) => x.hash),
    starts.map((s) => s.id), starts.map((s) => s.connection), starts.map((s) => s.connection_type), starts.map((s) => s.protocol),
    starts.map((s) => s.identity_name), starts.map((s) => s.identity), starts.map((s) => s.client_addr), starts.map((s) => s.started_at),
    starts.map((s) => s.commands), starts.map((s) => s.ended_at), starts.map((s) => s.end_reason),
    ups.map((u) => u.id), ups.map((u) => u.commands), ups.map((u) => u.ended_at), ups.map((u) => u.end_reason),
    b.head.seq, b.head.hash,
    ...headValues(h),
  ];
}
