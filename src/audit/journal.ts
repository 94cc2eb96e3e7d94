// The audit journal: where a durable event is on disk before it has its place in the
// chain. A strict gateway's commands wait for one write and one fdatasync of a small
// append-only file instead of a SQLite commit (a dozen WAL pages and their fsync, ~5x the
// CPU); the writer thread indexes the journal into the store (seq, hash, sessions, signed
// heads) a few ms later, in large transactions, and whoever opens the store after a crash
// indexes what is left (SqliteChain.recover). The store says how far it has indexed
// (chain_head.journal_gen / journal_offset, updated in the same transaction as the rows),
// so indexing is idempotent between processes.
//
// A record: u32 LE payload length, u32 LE CRC-32 of the payload, u32 LE format, then the
// payload: format 0 is the journal time, NUL, and the events packed as for the writer
// thread (batch-wire.ts); format 1, for a batch that cannot be packed, JSON
// [ts, [[type, sessionId, actor, dataJson], ...]]. A reader stops at the first record that
// is short or does not match its checksum: only the last write can be torn (each record
// is synced before the next is written), and the writer cuts the file there when it opens.
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { crc32 } from 'node:zlib';
import { packItems, unpackItems } from './batch-wire.ts';
import type { BatchItem } from './chain.ts';

const HEADER = 12;
/** A record larger than this is not one the writer makes (a batch is capped well below). */
const MAX_RECORD = 256 * 1024 * 1024;

/** The journal of generation `gen` beside the store's file (a generation is a file; the store names the current one). */
export function journalFile(dbFile: string, gen: number): string {
  return join(dirname(dbFile), `audit-journal.${gen}`);
}

/** The generations whose files are in `dir`, by the name journalFile() gives them. */
export function journalGenerations(dir: string): number[] {
  const gens: number[] = [];
  for (const f of readdirSync(dir)) {
    const gen = /^audit-journal\.(\d+)$/.exec(f)?.[1];
    if (gen !== undefined) gens.push(Number(gen));
  }
  return gens;
}

export interface JournalRecord {
  /** byte offsets of the record in its file: [start, end) */
  start: number;
  end: number;
  items: BatchItem[];
}

/** Records of one generation for the store to index (SqliteChain.write). */
export interface Journaled {
  gen: number;
  records: JournalRecord[];
}

const PACKED = 0;
const JSON_ROWS = 1;

export function encodeRecord(ts: string, items: BatchItem[]): Buffer {
  const packed = packItems(items);
  const format = typeof packed === 'string' ? PACKED : JSON_ROWS;
  const text = typeof packed === 'string' ? `${ts}\u0000${packed}` : JSON.stringify([ts, items.map((i) => [i.type, i.sessionId, i.actor, i.dataJson])]);
  const len = Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(HEADER + len);
  out.write(text, HEADER, 'utf8');
  out.writeUInt32LE(len, 0);
  out.writeUInt32LE(crc32(out.subarray(HEADER)), 4);
  out.writeUInt32LE(format, 8);
  return out;
}

function decodePayload(payload: Buffer, format: number): BatchItem[] | null {
  try {
    const text = payload.toString('utf8');
    if (format === PACKED) {
      const cut = text.indexOf('\u0000');
      if (cut < 0) return null;
      const ts = text.slice(0, cut);
      const items = unpackItems(text.slice(cut + 1));
      for (const it of items) it.ts = ts;
      return items;
    }
    if (format !== JSON_ROWS) return null;
    const [ts, rows] = JSON.parse(text) as [string, [string, string | null, string | null, string][]];
    if (typeof ts !== 'string' || !Array.isArray(rows)) return null;
    return rows.map(([type, sessionId, actor, dataJson]) => ({ type, sessionId, actor, dataJson, ts }));
  } catch {
    return null;
  }
}

/** The whole records of `file` from byte `from` on, up to the first short or damaged one. */
export function readJournal(file: string, from: number): JournalRecord[] {
  if (!existsSync(file)) return [];
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const records: JournalRecord[] = [];
    const header = Buffer.alloc(HEADER);
    let at = from;
    while (at + HEADER <= size) {
      if (readSync(fd, header, 0, HEADER, at) !== HEADER) break;
      const len = header.readUInt32LE(0);
      if (len === 0 || len > MAX_RECORD || at + HEADER + len > size) break;
      const payload = Buffer.alloc(len);
      if (readSync(fd, payload, 0, len, at + HEADER) !== len) break;
      if (crc32(payload) !== header.readUInt32LE(4)) break;
      const items = decodePayload(payload, header.readUInt32LE(8));
      if (!items) break;
      records.push({ start: at, end: at + HEADER + len, items });
      at += HEADER + len;
    }
    return records;
  } finally {
    closeSync(fd);
  }
}

/** Zeros written ahead of the records at a time: see JournalAppender. */
const PREALLOCATE = 4 * 1024 * 1024;

/**
 * The writer's end of one generation: appends whole records, each synced before append()
 * returns. The file is filled with zeros ahead of the records (4 MB at a time), so the
 * sync of a record writes its data blocks and no size or extent change: about half the
 * CPU of an fdatasync that grows the file. A reader stops at the zeros (length 0).
 */
export class JournalAppender {
  private readonly fd: number;
  private offset: number;
  private allocated: number;

  /** Opens generation `gen` and cuts it at `end` (the end of its last whole record: a torn write goes). */
  constructor(
    readonly file: string,
    readonly gen: number,
    end: number,
  ) {
    this.fd = openSync(file, existsSync(file) ? 'r+' : 'w+', 0o600);
    if (fstatSync(this.fd).size !== end) ftruncateSync(this.fd, end);
    this.offset = end;
    this.allocated = end;
  }

  get end(): number {
    return this.offset;
  }

  /** Write the record and wait for it to be on disk; returns where it lies. */
  append(ts: string, items: BatchItem[]): JournalRecord {
    const rec = encodeRecord(ts, items);
    if (this.offset + rec.length > this.allocated) this.preallocate(this.offset + rec.length);
    let done = 0;
    while (done < rec.length) done += writeSync(this.fd, rec, done, rec.length - done, this.offset + done);
    fdatasyncSync(this.fd);
    const start = this.offset;
    this.offset += rec.length;
    return { start, end: this.offset, items: items.map((i) => ({ ...i, ts })) };
  }

  private preallocate(atLeast: number): void {
    const zeros = Buffer.alloc(64 * 1024);
    const until = atLeast + PREALLOCATE;
    for (let at = this.allocated; at < until; at += zeros.length) writeSync(this.fd, zeros, 0, Math.min(zeros.length, until - at), at);
    fdatasyncSync(this.fd);
    this.allocated = until;
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Remove a generation every record of which the store holds. */
  static remove(file: string): void {
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  }
}

/**
 * The journal as its one appender holds it, on the gateway's main thread: a record is
 * written and synced right there (~65 us of CPU, ~150 us of wall time), which costs less
 * than handing it to a thread and back (~65 us of CPU more per group, measured). The
 * records stay here until a write of the writer thread says the store holds them.
 * One appender per data dir: the lock is a SQLite file held in exclusive locking mode
 * (an OS lock, let go when the process ends, however it ends).
 */
export class OwnedJournal {
  private appender: JournalAppender | null = null;
  private pending: JournalRecord[] = [];

  private constructor(
    private readonly dbFile: string,
    private readonly lock: DatabaseSync,
    private readonly rotateBytes: number,
  ) {}

  /** The journal's lock, or null when another process holds it (a second gateway on the data dir). */
  static take(dbFile: string, rotateBytes = 64 * 1024 * 1024): OwnedJournal | null {
    const lock = new DatabaseSync(join(dirname(dbFile), 'audit-journal.lock'));
    try {
      lock.exec('PRAGMA busy_timeout = 0');
      lock.exec('PRAGMA locking_mode = EXCLUSIVE');
      lock.exec('BEGIN EXCLUSIVE');
      lock.exec('COMMIT');
      return new OwnedJournal(dbFile, lock, rotateBytes);
    } catch {
      lock.close();
      return null;
    }
  }

  /** Start appending at the store's position, once it holds every whole record (recover()): what lies past it is a torn write, cut. */
  open(at: { gen: number; offset: number }): void {
    this.appender?.close();
    this.appender = new JournalAppender(journalFile(this.dbFile, at.gen), at.gen, at.offset);
    this.pending = [];
    // Older generations are all in the store (it moved past them); one is left behind
    // only by a stop between the store's move and the file's removal (rotated()).
    for (const gen of journalGenerations(dirname(this.dbFile))) if (gen < at.gen) JournalAppender.remove(journalFile(this.dbFile, gen));
  }

  /** Write the events as one record and sync it. */
  append(items: BatchItem[]): void {
    if (!this.appender) throw new Error('the audit journal is not open');
    this.pending.push(this.appender.append(new Date().toISOString(), items));
  }

  /** What the next write should index ahead of its own items (undefined: nothing). */
  unindexed(): Journaled | undefined {
    if (!this.appender || this.pending.length === 0) return undefined;
    return { gen: this.appender.gen, records: this.pending.slice() };
  }

  get hasUnindexed(): boolean {
    return this.pending.length > 0;
  }

  /** A write committed `j`: forget its records. */
  indexed(j: Journaled): void {
    const last = j.records.at(-1)!.end;
    this.pending = this.pending.filter((r) => r.end > last);
  }

  /** The generation is all in the store and big: the store should move to the next (SqliteChain.rotate), then rotated(). */
  rotation(): { gen: number; end: number } | null {
    const a = this.appender;
    if (!a || this.pending.length > 0 || a.end < this.rotateBytes) return null;
    return { gen: a.gen, end: a.end };
  }

  /** The store moved to gen + 1: append there, and remove the old file. */
  rotated(): void {
    const a = this.appender!;
    a.close();
    JournalAppender.remove(a.file);
    this.appender = new JournalAppender(journalFile(this.dbFile, a.gen + 1), a.gen + 1, 0);
  }

  close(): void {
    this.appender?.close();
    this.appender = null;
    this.lock.close();
  }
}

