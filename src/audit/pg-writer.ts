// The Postgres audit writer. Several gateway replicas (and the CLI) share one chain, so
// every transaction locks the one-row chain_head FOR UPDATE before reading it: writers
// queue on that row lock, and each one's batch continues the chain the last one left.
// It keeps one connection of the store's pool and spends three round trips a batch:
// BEGIN + lock, one statement writing everything (arrays + unnest), COMMIT.
import type pg from 'pg';
import { type BatchItem, type BatchWritten, type ChainHead, chainBatch, type ChainedBatch, written } from './chain.ts';
import { appendCheckpoints, type Checkpoint } from './checkpoint-file.ts';
import { fromPem, makeSigner, type Signer } from './keys.ts';
import type { ChainWriter, WriterConfig } from './writer.ts';

const LOCK = 'SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE';

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
), cp AS (
  INSERT INTO checkpoints (seq, hash, ts, signature, key_id)
  SELECT * FROM unnest($26::bigint[], $27::text[], $28::text[], $29::text[], $30::text[])
  ON CONFLICT (seq) DO NOTHING RETURNING seq
)
SELECT seq FROM cp`;

export class PgChainWriter implements ChainWriter {
  private readonly sign: Signer;
  private client: pg.PoolClient | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly cfg: WriterConfig,
  ) {
    this.sign = makeSigner(fromPem(cfg.privatePem));
  }

  async write(items: BatchItem[], durable: boolean): Promise<BatchWritten> {
    const { result, checkpoints } = await this.transaction(async (c, head) => {
      const batch = chainBatch(head, items, new Date().toISOString(), this.cfg.checkpointEvery, this.sign);
      const res = await c.query<{ seq: number }>({ name: 'warden_audit_write', text: WRITE, values: params(batch) });
      const inserted = new Set(res.rows.map((r) => Number(r.seq)));
      return { result: written(head, batch), checkpoints: batch.checkpoints.filter((cp) => inserted.has(cp.seq)) };
    }, durable);
    appendCheckpoints(this.cfg.dataDir, checkpoints);
    return result;
  }

  async checkpointHead(): Promise<Checkpoint | null> {
    const cp = await this.transaction(async (c, head) => {
      if (head.seq === 0) return null;
      const last = await c.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM checkpoints');
      if ((last.rows[0]?.seq ?? 0) >= head.seq) return null;
      const cp: Checkpoint = { seq: head.seq, hash: head.hash, ts: new Date().toISOString(), ...this.sign(head.seq, head.hash) };
      const res = await c.query(
        'INSERT INTO checkpoints (seq, hash, ts, signature, key_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING',
        [cp.seq, cp.hash, cp.ts, cp.signature, cp.keyId],
      );
      return res.rowCount === 1 ? cp : null;
    }, true);
    if (cp) appendCheckpoints(this.cfg.dataDir, [cp]);
    return cp;
  }

  async close(): Promise<void> {
    this.client?.release();
    this.client = null;
  }

  private async transaction<T>(fn: (c: pg.PoolClient, head: ChainHead) => Promise<T>, durable: boolean): Promise<T> {
    const c = await this.connection();
    try {
      // Async recording: the commit returns before its WAL flush (a crash may lose the
      // last moments, never reorder or fork the chain).
      const begin = durable ? `BEGIN; ${LOCK}` : `BEGIN; SET LOCAL synchronous_commit = off; ${LOCK}`;
      const results = (await c.query(begin)) as unknown as pg.QueryResult<ChainHead>[];
      const head = results[results.length - 1].rows[0];
      if (!head) throw new Error('the chain_head row is missing');
      const v = await fn(c, { seq: Number(head.seq), hash: head.hash });
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

function params(b: ChainedBatch): unknown[] {
  const r = b.rows;
  const starts = [...b.sessions.starts.values()];
  const ups = [...b.sessions.updates.values()];
  const cps = b.checkpoints;
  return [
    r.map((x) => x.seq), r.map((x) => x.ts), r.map((x) => x.type), r.map((x) => x.session_id),
    r.map((x) => x.actor), r.map((x) => x.data), r.map((x) => x.prev_hash), r.map((x) => x.hash),
    starts.map((s) => s.id), starts.map((s) => s.connection), starts.map((s) => s.connection_type), starts.map((s) => s.protocol),
    starts.map((s) => s.identity_name), starts.map((s) => s.identity), starts.map((s) => s.client_addr), starts.map((s) => s.started_at),
    starts.map((s) => s.commands), starts.map((s) => s.ended_at), starts.map((s) => s.end_reason),
    ups.map((u) => u.id), ups.map((u) => u.commands), ups.map((u) => u.ended_at), ups.map((u) => u.end_reason),
    b.head.seq, b.head.hash,
    cps.map((c) => c.seq), cps.map((c) => c.hash), cps.map((c) => c.ts), cps.map((c) => c.signature), cps.map((c) => c.keyId),
  ];
}
