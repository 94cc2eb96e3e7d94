// The SQLite side of the audit chain: one connection that appends batches in
// BEGIN IMMEDIATE transactions and signs checkpoints. It runs in the writer thread
// (sqlite-worker.ts): measured on 2 busy cores, committing on the main thread instead
// costs 15-20% of strict-mode throughput (the event loop stalls for every fsync).
import { DatabaseSync } from 'node:sqlite';
import { sqlitePragmas } from '../store/sqlite-pragmas.ts';
import { type BatchItem, type BatchWritten, type ChainHead, chainBatch, written } from './chain.ts';
import { appendCheckpoints, type Checkpoint } from './checkpoint-file.ts';
import { fromPem, makeSigner } from './keys.ts';
import type { WriterConfig } from './writer.ts';

export class SqliteChain {
  private readonly db: DatabaseSync;
  private readonly sign: ReturnType<typeof makeSigner>;
  private readonly st;
  private synchronous: 'FULL' | 'NORMAL' = 'FULL';

  constructor(private readonly cfg: WriterConfig & { file: string }) {
    const db = (this.db = new DatabaseSync(cfg.file));
    sqlitePragmas(db);
    this.sign = makeSigner(fromPem(cfg.privatePem));
    this.st = {
      head: db.prepare('SELECT seq, hash FROM chain_head WHERE id = 1'),
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
      checkpoint: db.prepare('INSERT INTO checkpoints (seq, hash, ts, signature, key_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING'),
      lastCheckpoint: db.prepare('SELECT max(seq) AS seq FROM checkpoints'),
    };
  }

  head(): ChainHead {
    return this.st.head.get() as unknown as ChainHead;
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

  private insertCheckpoints(cps: Checkpoint[]): Checkpoint[] {
    return cps.filter((c) => this.st.checkpoint.run(c.seq, c.hash, c.ts, c.signature, c.keyId).changes === 1);
  }

  write(items: BatchItem[], durable: boolean): BatchWritten {
    // NORMAL in WAL mode skips the fsync of this commit; the next FULL commit syncs the
    // WAL, earlier frames included. Only batches holding no durable event use it.
    const want = durable ? 'FULL' : 'NORMAL';
    if (want !== this.synchronous) {
      this.db.exec(`PRAGMA synchronous = ${want}`);
      this.synchronous = want;
    }
    const st = this.st;
    const { result, checkpoints } = this.inTransaction(() => {
      const head = st.head.get() as unknown as ChainHead;
      const batch = chainBatch(head, items, new Date().toISOString(), this.cfg.checkpointEvery, this.sign);
      for (const r of batch.rows) st.event.run(r.seq, r.ts, r.type, r.session_id, r.actor, r.data, r.prev_hash, r.hash);
      for (const s of batch.sessions.starts.values()) st.start.run(s);
      for (const u of batch.sessions.updates.values()) st.update.run({ ...u });
      const inserted = this.insertCheckpoints(batch.checkpoints);
      st.setHead.run(batch.head.seq, batch.head.hash);
      return { result: written(head, batch), checkpoints: inserted };
    });
    appendCheckpoints(this.cfg.dataDir, checkpoints);
    return result;
  }

  checkpointHead(): Checkpoint | null {
    const cp = this.inTransaction(() => {
      const head = this.st.head.get() as unknown as ChainHead;
      if (head.seq === 0 || Number(this.st.lastCheckpoint.get()?.seq ?? 0) >= head.seq) return null;
      const c: Checkpoint = { seq: head.seq, hash: head.hash, ts: new Date().toISOString(), ...this.sign(head.seq, head.hash) };
      return this.insertCheckpoints([c])[0] ?? null;
    });
    if (cp) appendCheckpoints(this.cfg.dataDir, [cp]);
    return cp;
  }

  close(): void {
    this.db.close();
  }
}
