// The SQLite side of the audit chain: one connection that appends batches in
// BEGIN IMMEDIATE transactions, each signed when signEvery has passed (HeadSigner). It runs in the writer thread
// (sqlite-worker.ts): measured on 2 busy cores, committing on the main thread instead
// costs 15-20% of strict-mode throughput (the event loop stalls for every fsync).
import { DatabaseSync } from 'node:sqlite';
import { sqlitePragmas } from '../store/sqlite-pragmas.ts';
import type { SignedHeadsTable } from '../store/schema.ts';
import { type BatchItem, type BatchWritten, type ChainHead, chainBatch, type EventRow, headFromRow, HeadSigner, written } from './chain.ts';
import type { HeadKind, SignedHead } from './head.ts';
import { fromPem } from './keys.ts';
import type { WriterConfig } from './writer.ts';

export class SqliteChain {
  private readonly db: DatabaseSync;
  private readonly heads: HeadSigner;
  private readonly st;
  private synchronous: 'FULL' | 'NORMAL' = 'FULL';

  constructor(cfg: WriterConfig & { file: string }) {
    const db = (this.db = new DatabaseSync(cfg.file));
    sqlitePragmas(db);
    this.heads = new HeadSigner(fromPem(cfg.privatePem), cfg.signEveryMs ?? 0);
    this.st = {
      head: db.prepare('SELECT seq, hash FROM chain_head WHERE id = 1'),
      top: db.prepare('SELECT * FROM signed_heads ORDER BY n DESC LIMIT 1'),
      setHead: db.prepare('UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1'),
      event: db.prepare('INSERT INTO events (seq, ts, type, session_id, actor, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      start: db.prepare(
        `INSERT INTO sessions (id, connection, connection_type, protocol, identity_name, identity, client_addr, started_at, commands, ended_at, end_reason)
         VALUES (@id, @connection, @connection_type, @protocol, @identity_name, @identity, @client_addr, @started_at, @commands, @ended_at, @end_reason)
         ON CONFLICT (id) DO NOTHING`,
      ),
      update: db.prepare(
        `UPDATE sessions SET commands = commands + @commands, ended_at = coalesce(@ended_at, ended_at),
         end_reason = coalesce(@end_reason, end_reason) WHERE id = @id`,
      ),
      tail: db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq'),
      signed: db.prepare('INSERT INTO signed_heads (n, seq, hash, ts, prev, kind, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    };
  }

  head(): ChainHead {
    return this.st.head.get() as unknown as ChainHead;
  }

  private top(): SignedHead | null {
    const r = this.st.top.get();
    return r ? headFromRow(r as unknown as SignedHeadsTable) : null;
  }

  // BEGIN IMMEDIATE takes the write lock before the head is read, so a CLI process
  // appending to the same file waits (busy_timeout) instead of forking the chain.
  private inTransaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const v = fn();
      this.db.exec('COMMIT');
      return v;
    } catch (e) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  private insertHead(h: SignedHead): void {
    this.st.signed.run(h.n, h.seq, h.hash, h.ts, h.prev, h.kind, h.keyId, h.signature);
  }

  write(items: BatchItem[], durable: boolean): BatchWritten {
    // NORMAL in WAL mode skips the fsync of this commit; the next FULL commit syncs the
    // WAL, earlier frames included. Only batches holding no durable event use it.
    this.sync(durable);
    const st = this.st;
    const result = this.inTransaction(() => {
      const head = st.head.get() as unknown as ChainHead;
      const ts = new Date().toISOString();
      const batch = chainBatch(head, items, ts);
      const top = this.top();
      const signed = this.heads.next('batch', head, top, batch.head, ts, this.tail(head, top));
      for (const r of batch.rows) st.event.run(r.seq, r.ts, r.type, r.session_id, r.actor, r.data, r.prev_hash, r.hash);
      for (const s of batch.sessions.starts.values()) st.start.run(s);
      for (const u of batch.sessions.updates.values()) st.update.run({ ...u });
      if (signed) this.insertHead(signed);
      st.setHead.run(batch.head.seq, batch.head.hash);
      return written(head, batch, signed);
    });
    this.heads.committed(result.signed, { seq: result.firstSeq - 1 + result.hashes.length, hash: result.hashes.at(-1) ?? result.prevHash });
    return result;
  }

  /** A head over the chain as it stands (beat, close, adopt), committed durably; null when there is nothing to sign. */
  sign(kind: HeadKind): SignedHead | null {
    this.sync(true);
    const [h, head] = this.inTransaction(() => {
      const head = this.st.head.get() as unknown as ChainHead;
      const top = this.top();
      const signed = this.heads.next(kind, head, top, head, new Date().toISOString(), this.tail(head, top));
      if (signed) this.insertHead(signed);
      return [signed, head] as const;
    });
    this.heads.committed(h, head);
    return h;
  }

  /** The events after the newest head, when another writer left them unsigned (HeadSigner.needsTail). */
  private tail(head: ChainHead, top: SignedHead | null): EventRow[] | undefined {
    if (!this.heads.needsTail(head, top)) return undefined;
    return this.st.tail.all(top!.seq) as unknown as EventRow[];
  }

  private sync(durable: boolean): void {
    const want = durable ? 'FULL' : 'NORMAL';
    if (want !== this.synchronous) {
      this.db.exec(`PRAGMA synchronous = ${want}`);
      this.synchronous = want;
    }
  }

  close(): void {
    this.db.close();
  }
}
