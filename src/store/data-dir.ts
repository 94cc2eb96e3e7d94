// The data dir holds the gateway's keys, the SQLite store, audit checkpoints and the TLS
// key: it is made 0700 before any file goes in, and an existing one that others can read
// or enter is tightened (the files in it are 0600, but their names and the store's -wal
// and -shm files are not theirs to see).
import { chmodSync, mkdirSync, statSync } from 'node:fs';

export interface DataDirState {
  /** the mode it had when it was looser than 0700 and was tightened */
  tightenedFrom?: number;
  /** it is looser than 0700 and could not be tightened (not ours) */
  looseMode?: number;
}

export function ensureDataDir(dir: string): DataDirState {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return {};
  try {
    chmodSync(dir, mode & 0o700);
    return { tightenedFrom: mode };
  } catch {
    return { looseMode: mode };
  }
}

/** A line for the log when `ensureDataDir` found a loose mode, else null. */
export function dataDirWarning(dir: string, s: DataDirState): string | null {
  const octal = (m: number) => `0${m.toString(8)}`;
  if (s.tightenedFrom !== undefined) return `data dir ${dir} was mode ${octal(s.tightenedFrom)}; tightened to ${octal(s.tightenedFrom & 0o700)}`;
  if (s.looseMode !== undefined) return `data dir ${dir} is mode ${octal(s.looseMode)} and could not be tightened: others may read the gateway's keys' names and the store`;
  return null;
}
