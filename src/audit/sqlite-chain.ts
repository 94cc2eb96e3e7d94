// The SQLite side of the audit chain: one connection that appends batches in
// BEGIN IMMEDIATE transactions, each with its signed head. It runs in the writer thread
// (sqlite-worker.ts): measured on 2 busy cores, committing on the main thread instead
// costs 15-20% of strict-mode throughput (the event loop stalls for every fsync).
import { DatabaseSync } from 'node:sqlite';
import { sqlitePragmas } from '../store/sqlite-pragmas.ts';
import type { SignedHeadsTable } from '../store/schema.ts';
import { type BatchItem, type BatchWritten, type ChainedBatch, type ChainHead, chainBatch, headFromRow, HeadSigner, written } from './chain.ts';
import type { HeadKind, SignedHead } from './head.ts';
import { fromPem } from './keys.ts';
import type { WriterConfig } from './writer.ts';
import { AuditJournal, journalFile, journalHeld, readJournal, syncStore, type JournalRecord } from './journal.ts';

export class SqliteChain {
  private readonly db: DatabaseSync;
  private readonly heads: HeadSigner;
  private readonly st;
  private synchronous: 'FULL' | 'NORMAL' = 'FULL';
  private readonly file: string;
  /** the durable step of a long-lived writer (see journal.ts); null: durable commits are FULL */
  private readonly journal: AuditJournal | null = null;

  /** `journal`: commit durable groups through the journal (the gateway's writer thread). */
  constructor(cfg: WriterConfig & { file: string; journal?: boolean }) {
    this.file = cfg.file;
    const db = (this.db = new DatabaseSync(cfg.file));
    sqlitePragmas(db);
    this.heads = new HeadSigner(fromPem(cfg.privatePem));
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
      signed: db.prepare('INSERT INTO signed_heads (n, seq, hash, ts, prev, kind, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    };
    try {
      // A journal no live process writes may hold groups an OS crash took from the store.
      if (!journalHeld(cfg.file)) this.replay(readJournal(cfg.file));
      if (cfg.journal) {
        syncStore(cfg.file); // what the journal held is durable in the store now: it may be overwritten
        this.journal = AuditJournal.acquire(cfg.file);
      }
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Put back the journal's groups the store lacks, as they were (hashes, signed heads), in one FULL transaction. */
  private replay(records: JournalRecord[]): void {
    if (records.length === 0) return;
    this.sync(true);
    this.inTransaction(() => {
      let head = this.st.head.get() as unknown as ChainHead;
      for (const r of records) {
        if (r.firstSeq + r.items.length - 1 <= head.seq) continue; // in the store already
        if (r.firstSeq !== head.seq + 1 || r.prevHash !== head.hash) {
          throw new Error(
            `the audit journal ${journalFile(this.file)} holds events ${r.firstSeq}..${r.firstSeq + r.items.length - 1} that do not follow the store's chain (its head is event ${head.seq}): ` +
              'was the store restored from a backup? Move the journal aside to start without it.',
          );
        }
        const batch = chainBatch(head, r.items, r.ts);
        if (batch.head.seq !== r.signed.seq || batch.head.hash !== r.signed.hash) {
          throw new Error(`the audit journal ${journalFile(this.file)}: the group of events ${r.firstSeq}.. does not hash to its signed head #${r.signed.n}`);
        }
        this.insertBatch(batch, r.signed);
        head = batch.head;
      }
    });
  }

  private insertBatch(batch: ChainedBatch, signed: SignedHead): void {
    const st = this.st;
    for (const r of batch.rows) st.event.run(r.seq, r.ts, r.type, r.session_id, r.actor, r.data, r.prev_hash, r.hash);
    for (const s of batch.sessions.starts.values()) st.start.run(s);
    for (const u of batch.sessions.updates.values()) st.update.run({ ...u });
    this.insertHead(signed);
    st.setHead.run(batch.head.seq, batch.head.hash);
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
    // WAL, earlier frames included. Batches holding no durable event use it, and with a
    // journal every batch does: the journal's fdatasync is the durable step.
    const journal = this.journal;
    this.sync(durable && journal === null);
    const st = this.st;
    const result = this.inTransaction(() => {
      const head = st.head.get() as unknown as ChainHead;
      const ts = new Date().toISOString();
      const batch = chainBatch(head, items, ts);
      const signed = this.heads.next('batch', head, this.top(), batch.head, ts)!;
      this.insertBatch(batch, signed);
      return written(head, batch, signed);
    });
    this.heads.committed(result.signed);
    // Every batch goes to the journal (a lost non-durable one would break the chain of
    // the durable ones after it); only a durable one waits for the fdatasync.
    if (journal && !journal.append({ ts: result.ts, firstSeq: result.firstSeq, prevHash: result.prevHash, items, signed: result.signed }, durable)) {
      syncStore(this.file); // the journal is full: the store's own fsync makes all of it durable, and the journal starts over
    }
    return result;
  }

  /** A head over the chain as it stands (beat, close, adopt), committed durably; null when there is nothing to sign. */
  sign(kind: HeadKind): SignedHead | null {
    this.sync(true);
    const h = this.inTransaction(() => {
      const head = this.st.head.get() as unknown as ChainHead;
      const signed = this.heads.next(kind, head, this.top(), head, new Date().toISOString());
      if (signed) this.insertHead(signed);
      return signed;
    });
    if (h) this.heads.committed(h);
    return h;
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
    if (this.journal) {
      syncStore(this.file); // other connections may keep the WAL open: its unsynced commits made durable before the journal lets go
      this.journal.close();
    }
  }
}
