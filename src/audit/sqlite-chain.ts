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
import { JournalAppender, journalFile, type JournalRecord, readJournal } from './journal.ts';
import type { WriterConfig } from './writer.ts';

/** chain_head as the SQLite writers read it: the head, and how far the store has indexed the journal. */
interface HeadRow {
  seq: number;
  hash: string;
  journal_gen: number;
  journal_offset: number;
}

/** A generation is rotated once every record in it is indexed and it is this big (WriterConfig.journalRotateBytes). */
const ROTATE_BYTES = 64 * 1024 * 1024;

export class SqliteChain {
  private readonly db: DatabaseSync;
  private readonly heads: HeadSigner;
  private readonly st;
  private synchronous: 'FULL' | 'NORMAL' = 'FULL';
  /** this process's end of the journal (journal()), opened at the first durable event; null: none yet */
  private appender: JournalAppender | null = null;
  /** the lock that makes this process the journal's only appender (ownJournal()) */
  private journalLock: DatabaseSync | null = null;
  /** records journaled here that the store may not hold yet, oldest first */
  private pending: JournalRecord[] = [];

  private readonly file: string;
  private readonly rotateBytes: number;

  constructor(cfg: WriterConfig & { file: string }) {
    const db = (this.db = new DatabaseSync(cfg.file));
    sqlitePragmas(db);
    this.heads = new HeadSigner(fromPem(cfg.privatePem), cfg.signEveryMs ?? 0);
    this.file = cfg.file;
    this.rotateBytes = cfg.journalRotateBytes ?? ROTATE_BYTES;
    this.st = {
      head: db.prepare('SELECT seq, hash, journal_gen, journal_offset FROM chain_head WHERE id = 1'),
      top: db.prepare('SELECT * FROM signed_heads ORDER BY n DESC LIMIT 1'),
      setHead: db.prepare('UPDATE chain_head SET seq = ?, hash = ?, journal_gen = ?, journal_offset = ? WHERE id = 1'),
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
      rotate: db.prepare('UPDATE chain_head SET journal_gen = ?, journal_offset = 0 WHERE id = 1 AND journal_gen = ? AND journal_offset = ?'),
      signed: db.prepare('INSERT INTO signed_heads (n, seq, hash, ts, prev, kind, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    };
  }

  head(): ChainHead {
    const r = this.st.head.get() as unknown as HeadRow;
    return { seq: r.seq, hash: r.hash };
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
    // WAL, earlier frames included. Only batches holding no durable event use it. A batch
    // that indexes journaled events is synced, so the store's position in the journal (and
    // the head over them) never goes back after a crash.
    const synced = durable || this.pending.length > 0;
    this.sync(synced);
    const st = this.st;
    let indexedTo: { gen: number; offset: number } | null = null;
    const result = this.inTransaction(() => {
      const row = st.head.get() as unknown as HeadRow;
      const head = { seq: row.seq, hash: row.hash };
      const journaled = this.unindexed(row);
      const all = journaled.items.length ? [...journaled.items, ...items] : items;
      const ts = new Date().toISOString();
      const batch = chainBatch(head, all, ts);
      const top = this.top();
      const signed = this.heads.next('batch', head, top, batch.head, ts, this.tail(head, top));
      this.insert(batch, signed);
      st.setHead.run(batch.head.seq, batch.head.hash, journaled.gen, journaled.offset);
      indexedTo = journaled;
      return { ...written(head, batch, signed), journaled: journaled.items.length, durable: synced };
    });
    this.heads.committed(result.signed, { seq: result.firstSeq - 1 + result.hashes.length, hash: result.hashes.at(-1) ?? result.prevHash });
    if (indexedTo) this.indexed(indexedTo);
    return result;
  }

  private insert(batch: ReturnType<typeof chainBatch>, signed: SignedHead | null): void {
    const st = this.st;
    for (const r of batch.rows) st.event.run(r.seq, r.ts, r.type, r.session_id, r.actor, r.data, r.prev_hash, r.hash);
    for (const s of batch.sessions.starts.values()) st.start.run(s);
    for (const u of batch.sessions.updates.values()) st.update.run({ ...u });
    if (signed) this.insertHead(signed);
  }

  /**
   * Put the events on disk in the journal (one write, one fdatasync), to join the chain
   * at the next write(). False when this process may not append to the journal (another
   * gateway on the same data dir owns it): the caller then commits them with write().
   */
  journal(items: BatchItem[]): boolean {
    if (!this.appender) {
      if (!this.ownJournal()) return false;
      const row = this.st.head.get() as unknown as HeadRow;
      // recover() ran when this writer opened: the store holds every whole record, so
      // what lies past its position is a torn write, cut here.
      this.appender = new JournalAppender(journalFile(this.file, row.journal_gen), row.journal_gen, row.journal_offset);
    }
    this.pending.push(this.appender.append(new Date().toISOString(), items));
    return true;
  }

  /** The records journaled here past the store's position (another process may have indexed some: recover()). */
  private unindexed(row: HeadRow): { items: BatchItem[]; gen: number; offset: number } {
    const a = this.appender;
    if (!a || this.pending.length === 0 || a.gen !== row.journal_gen) return { items: [], gen: row.journal_gen, offset: row.journal_offset };
    const items: BatchItem[] = [];
    for (const r of this.pending) if (r.start >= row.journal_offset) items.push(...r.items);
    return { items, gen: a.gen, offset: Math.max(row.journal_offset, this.pending.at(-1)!.end) };
  }

  /** After a commit: forget what the store holds; start a new generation when this one is big and all in. */
  private indexed(to: { gen: number; offset: number }): void {
    this.pending = this.pending.filter((r) => r.end > to.offset);
    const a = this.appender;
    if (!a || this.pending.length > 0 || a.gen !== to.gen || a.end !== to.offset || a.end < this.rotateBytes) return;
    this.sync(true);
    this.inTransaction(() => this.st.rotate.run(a.gen + 1, a.gen, a.end));
    const row = this.st.head.get() as unknown as HeadRow;
    if (row.journal_gen !== a.gen + 1) return; // another process moved it first: keep this one
    a.close();
    JournalAppender.remove(a.file);
    this.appender = new JournalAppender(journalFile(this.file, a.gen + 1), a.gen + 1, 0);
  }

  /**
   * Index what the journal holds past the store's position (a gateway that stopped
   * without indexing: killed, crashed), and sign a head over it. Run by every opener of
   * the store, so what was durable before a crash is in the chain before anyone reads it.
   * Returns how many events it indexed.
   */
  recover(): number {
    const peek = this.st.head.get() as unknown as HeadRow;
    if (readJournal(journalFile(this.file, peek.journal_gen), peek.journal_offset).length === 0) return 0;
    this.sync(true);
    let count = 0;
    const [signed, after] = this.inTransaction(() => {
      const row = this.st.head.get() as unknown as HeadRow;
      const records = readJournal(journalFile(this.file, row.journal_gen), row.journal_offset);
      const head = { seq: row.seq, hash: row.hash };
      if (records.length === 0) return [null, head] as const;
      const items = records.flatMap((r) => r.items);
      const ts = new Date().toISOString();
      const batch = chainBatch(head, items, ts);
      const top = this.top();
      // signed whatever signEvery says: these events were journaled before a crash, and
      // may be older than the window an unsigned tail is allowed
      const signed = this.heads.next('beat', head, top, batch.head, ts, this.tail(head, top));
      this.insert(batch, signed);
      this.st.setHead.run(batch.head.seq, batch.head.hash, row.journal_gen, records.at(-1)!.end);
      count = items.length;
      return [signed, batch.head] as const;
    });
    this.heads.committed(signed, after);
    return count;
  }

  /** Take the journal's appender lock (held until close): one appender per journal, even with two gateways on one data dir. */
  private ownJournal(): boolean {
    const lock = new DatabaseSync(journalFile(this.file, 0).replace(/\.0$/, '.lock'));
    try {
      lock.exec('PRAGMA busy_timeout = 0');
      lock.exec('PRAGMA locking_mode = EXCLUSIVE');
      lock.exec('BEGIN EXCLUSIVE');
      lock.exec('COMMIT');
      this.journalLock = lock;
      return true;
    } catch {
      lock.close();
      return false;
    }
  }

  /** A head over the chain as it stands (beat, close, adopt), committed durably; null when there is nothing to sign. */
  sign(kind: HeadKind): SignedHead | null {
    // a head covers what was journaled before it (a close head above all: nothing follows it)
    if (this.pending.length > 0) this.write([], true);
    this.sync(true);
    const [h, head] = this.inTransaction(() => {
      const head = this.head();
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
    this.appender?.close();
    this.journalLock?.close();
    this.db.close();
  }
}
