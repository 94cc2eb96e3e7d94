// The audit writer thread's durable step. SQLite's FULL commit ends in fsync() of the
// WAL, which on ext4 also commits the inode (its mtime moved): two device flushes per
// group. Instead the thread commits each group to SQLite without a sync (NORMAL) and
// then appends the group, as it went in, to this journal: one pwrite and one
// fdatasync() into space written once at creation, so the flush carries no metadata.
// A group is acknowledged only after that fdatasync.
//
// After an OS crash the store can miss a tail of those unsynced commits (WAL frames
// survive as a prefix); the journal holds them, and the next opener of the store
// replays them (sqlite-chain.ts). A killed process loses nothing either way: its
// commits are in the page cache. A journal record is written after its SQLite commit,
// so a live writer's records are always already in the store.
//
// Record: u32 length, u32 crc32 of the payload, payload (JSON). Writing wraps to the
// start when the file is full, after the store's WAL was fsynced (everything so far
// durable there); a scan stops at the first record whose crc does not hold.
import { closeSync, existsSync, fdatasyncSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { BatchItem } from './chain.ts';
import type { SignedHead } from './head.ts';

/** One group as it went into the store: enough to write it again, hash for hash. */
export interface JournalRecord {
  ts: string;
  firstSeq: number;
  prevHash: string;
  items: BatchItem[];
  signed: SignedHead;
}

export const JOURNAL_BYTES = 8 << 20;
const HEADER = 8;

export const journalFile = (dbFile: string) => `${dbFile}-audit-journal`;
const lockFile = (dbFile: string) => `${journalFile(dbFile)}.lock`;

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is the journal of this store being written by a live process (of this boot)? */
export function journalHeld(dbFile: string): boolean {
  try {
    const [pid, boot] = readFileSync(lockFile(dbFile), 'utf8').split('\n');
    return boot === bootId() && Number(pid) !== process.pid && alive(Number(pid));
  } catch {
    return false;
  }
}

/** The records of a journal left by a writer that is gone, in file order (none when there is no journal, or it was closed empty). */
export function readJournal(dbFile: string): JournalRecord[] {
  const file = journalFile(dbFile);
  if (!existsSync(file)) return [];
  const fd = openSync(file, 'r');
  const out: JournalRecord[] = [];
  try {
    const header = Buffer.alloc(HEADER);
    for (let pos = 0; pos + HEADER <= JOURNAL_BYTES; ) {
      if (readSync(fd, header, 0, HEADER, pos) < HEADER) break;
      const len = header.readUInt32LE(0);
      if (len === 0 || pos + HEADER + len > JOURNAL_BYTES) break;
      const payload = Buffer.alloc(len);
      if (readSync(fd, payload, 0, len, pos + HEADER) < len || crc32(payload) !== header.readUInt32LE(4)) break;
      out.push(JSON.parse(payload.toString('utf8')) as JournalRecord);
      pos += HEADER + len;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export class AuditJournal {
  private pos = 0;

  private constructor(
    private readonly dbFile: string,
    private readonly fd: number,
  ) {}

  /**
   * Take the journal of this store for this process, or null when another live process
   * writes it (that writer then keeps its own, and this one commits with FULL syncs).
   * Call it after any replay and syncStore(): writing starts over at the beginning.
   */
  static acquire(dbFile: string): AuditJournal | null {
    if (journalHeld(dbFile)) return null;
    writeFileSync(lockFile(dbFile), `${process.pid}\n${bootId()}\n`);
    const file = journalFile(dbFile);
    const fd = openSync(file, existsSync(file) ? 'r+' : 'w+');
    try {
      // Written out whole once, so an append's fdatasync has no block allocation or size change to flush.
      if (fstatSync(fd).size < JOURNAL_BYTES) {
        const zeros = Buffer.alloc(1 << 20);
        for (let at = 0; at < JOURNAL_BYTES; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, at);
        fsyncSync(fd);
      } else {
        writeSync(fd, Buffer.alloc(HEADER), 0, HEADER, 0); // empty: what it held is in the (synced) store
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new AuditJournal(dbFile, fd);
  }

  /**
   * Append one group; `sync`: fdatasync before returning (the group is durable). false:
   * the journal is full; the caller must make the store itself durable (syncStore) and
   * then this starts over from the beginning.
   */
  append(rec: JournalRecord, sync: boolean): boolean {
    const json = JSON.stringify(rec);
    const len = Buffer.byteLength(json);
    const end = this.pos + HEADER + len;
    if (end > JOURNAL_BYTES) {
      this.pos = 0;
      return false;
    }
    // header and payload in one buffer: one write
    const buf = Buffer.allocUnsafe(HEADER + len);
    buf.write(json, HEADER, 'utf8');
    buf.writeUInt32LE(len, 0);
    buf.writeUInt32LE(crc32(buf.subarray(HEADER)), 4);
    writeSync(this.fd, buf, 0, buf.length, this.pos);
    if (sync) fdatasyncSync(this.fd);
    this.pos = end;
    return true;
  }

  /** The store is closed (and so synced): mark the journal empty, so the next opener reads 8 bytes of it, and let it go. */
  close(): void {
    try {
      writeSync(this.fd, Buffer.alloc(HEADER), 0, HEADER, 0);
    } finally {
      closeSync(this.fd);
    }
    try {
      unlinkSync(lockFile(this.dbFile));
    } catch {
      // gone already: nothing to release
    }
  }
}

/** fsync the store's files (the WAL holds commits made without a sync): all of it durable, the journal's records no longer needed. */
export function syncStore(dbFile: string): void {
  for (const f of [`${dbFile}-wal`, dbFile]) {
    if (!existsSync(f)) continue;
    const fd = openSync(f, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
