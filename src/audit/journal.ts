// The audit journal: where a durable event is on disk before it has its place in the
// chain. A strict gateway's commands wait for one write and one fdatasync of a small
// append-only file instead of a SQLite commit (a dozen WAL pages and their fsync, ~5x the
// CPU); the writer thread indexes the journal into the store (seq, hash, sessions, signed
// heads) a few ms later, in large transactions, and whoever opens the store after a crash
// indexes what is left (SqliteChain.recover). The store says how far it has indexed
// (chain_head.journal_gen / journal_offset, updated in the same transaction as the rows),
// so indexing is idempotent between processes.
//
// A record: u32 LE payload length, 8 bytes of sha256(payload), then the payload, JSON
// [ts, [[type, sessionId, actor, dataJson], ...]]. A reader stops at the first record that
// is short or does not match its hash: only the last write can be torn (each record is
// synced before the next is written), and the writer cuts the file there when it opens.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BatchItem } from './chain.ts';

const HEADER = 12;
/** A record larger than this is not one the writer makes (a batch is capped well below). */
const MAX_RECORD = 256 * 1024 * 1024;

/** The journal of generation `gen` beside the store's file (a generation is a file; the store names the current one). */
export function journalFile(dbFile: string, gen: number): string {
  return join(dirname(dbFile), `audit-journal.${gen}`);
}

export interface JournalRecord {
  /** byte offsets of the record in its file: [start, end) */
  start: number;
  end: number;
  items: BatchItem[];
}

function checksum(payload: Buffer): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, 8);
}

export function encodeRecord(ts: string, items: BatchItem[]): Buffer {
  const payload = Buffer.from(JSON.stringify([ts, items.map((i) => [i.type, i.sessionId, i.actor, i.dataJson])]), 'utf8');
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  checksum(payload).copy(out, 4);
  payload.copy(out, HEADER);
  return out;
}

function decodePayload(payload: Buffer): BatchItem[] | null {
  try {
    const [ts, rows] = JSON.parse(payload.toString('utf8')) as [string, [string, string | null, string | null, string][]];
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
      if (!checksum(payload).equals(header.subarray(4, HEADER))) break;
      const items = decodePayload(payload);
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
