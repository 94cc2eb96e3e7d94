// The SQLite side of the audit chain: one connection that appends batches in
// BEGIN IMMEDIATE transactions, each signed when signEvery has passed (HeadSigner). It runs in the writer thread
// (sqlite-worker.ts): measured on 2 busy cores, committing on the main thread instead
// costs 15-20% of strict-mode throughput (the event loop stalls for every fsync).
import { DatabaseSync } from 'node:sqlite';
import { sqlitePragmas } from '../store/sqlite-pragmas.ts';
import type { SignedHeadsTable } from '../store/schema.ts';
import { type BatchItem, type BatchWritten, type ChainHead, chainBatch, ChainTampered, type EventRow, headFromRow, HeadSigner, written } from './chain.ts';
import type { HeadKind, SignedHead } from './head.ts';
import { fromPem } from './keys.ts';
import { journalFile, type Journaled, readJournal } from './journal.ts';
import type { WriterConfig } from './writer.ts';

/** chain_head as the SQLite writers read it: the head, and how far the store has indexed the journal. */
interface HeadRow {
  seq: number;
  hash: string;
  journal_gen: number;
  journal_offset: number;
}

/** The journaled records the store does not hold yet (another process may have indexed some: recover()), and its position after them. */
function unindexed(row: HeadRow, journaled: Journaled | undefined): { items: BatchItem[]; gen: number; offset: number } {
  const records = journaled?.records ?? [];
  if (records.length === 0 || journaled!.gen !== row.journal_gen) return { items: [], gen: row.journal_gen, offset: row.journal_offset };
  const items: BatchItem[] = [];
  for (const r of records) if (r.start >= row.journal_offset) items.push(...r.items);
  return { items, gen: row.journal_gen, offset: Math.max(row.journal_offset, records.at(-1)!.end) };
}

export class SqliteChain {
  private readonly db: DatabaseSync;
  private readonly heads: HeadSigner;
  private readonly st;
  private synchronous: 'FULL' | 'NORMAL' = 'FULL';

  private readonly file: string;

  constructor(cfg: WriterConfig & { file: string }) {
    const db = (this.db = new DatabaseSync(cfg.file));
    sqlitePragmas(db);
    this.heads = new HeadSigner(fromPem(cfg.privatePem), cfg.signEveryMs ?? 0);
    this.file = cfg.file;
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

  /**
   * One transaction: `journaled` first (records the caller put in the journal, which the
   * store may hold some of already: another process's recover()), then `items`.
   */
  write(items: BatchItem[], durable: boolean, journaled?: Journaled): BatchWritten {
    // NORMAL in WAL mode skips the fsync of this commit; the next FULL commit syncs the
    // WAL, earlier frames included. Only batches holding no durable event use it. A batch
    // that indexes journaled events is synced, so the store's position in the journal (and
    // the head over them) never goes back after a crash.
    const synced = durable || (journaled?.records.length ?? 0) > 0;
    this.sync(synced);
    const st = this.st;
    const result = this.inTransaction(() => {
      const row = st.head.get() as unknown as HeadRow;
      const head = { seq: row.seq, hash: row.hash };
      const from = unindexed(row, journaled);
      const all = from.items.length ? [...from.items, ...items] : items;
      const ts = new Date().toISOString();
      const batch = chainBatch(head, all, ts);
      const top = this.top();
      const signed = this.heads.next('batch', head, top, batch.head, ts, this.tail(head, top));
      this.insert(batch, signed);
      st.setHead.run(batch.head.seq, batch.head.hash, from.gen, from.offset);
      return { ...written(head, batch, signed), journaled: from.items.length, durable: synced };
    });
    this.heads.committed(result.signed, { seq: result.firstSeq - 1 + result.hashes.length, hash: result.hashes.at(-1) ?? result.prevHash });
    return result;
  }

  private insert(batch: ReturnType<typeof chainBatch>, signed: SignedHead | null): void {
    const st = this.st;
    for (const r of batch.rows) st.event.run(r.seq, r.ts, r.type, r.session_id, r.actor, r.data, r.prev_hash, r.hash);
    for (const s of batch.sessions.starts.values()) st.start.run(s);
    for (const u of batch.sessions.updates.values()) st.update.run({ ...u });
    if (signed) this.insertHead(signed);
  }

  /** Start journal generation gen + 1 if the store holds all of gen (up to `end`); false: it does not (yet). */
  rotate(gen: number, end: number): boolean {
    this.sync(true);
    return this.inTransaction(() => Number(this.st.rotate.run(gen + 1, gen, end).changes) > 0);
  }

  /** How far the store holds the journal. */
  journalPosition(): { gen: number; offset: number } {
    const r = this.st.head.get() as unknown as HeadRow;
    return { gen: r.journal_gen, offset: r.journal_offset };
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
      const top = this.top();
      // A gateway that stops cleanly indexes its whole journal before its close head, and
      // one that starts signs a beat before it journals: records after a close head were
      // written by someone else (who can write the data dir), and are not signed into the chain.
      if (top?.kind === 'close') {
        throw new ChainTampered(
          `audit chain tampered: ${journalFile(this.file, row.journal_gen)} holds records after the store's close head #${top.n}, which no gateway writes; they are not indexed (run \`warden audit verify\`, then move the file aside)`,
        );
      }
      const items = records.flatMap((r) => r.items);
      const ts = new Date().toISOString();
      const batch = chainBatch(head, items, ts);
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

  /** A head over the chain as it stands (beat, close, adopt), committed durably; null when there is nothing to sign. */
  sign(kind: HeadKind): SignedHead | null {
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
    this.db.close();
  }
}
