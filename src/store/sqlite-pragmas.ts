// Pragmas every SQLite connection of the store uses: the main (Kysely) connection and
// the audit writer thread's own. Kept apart from open.ts so the writer thread does not
// load Kysely and pg just to set them.
import type BetterSqlite3 from 'better-sqlite3';

/** How long a connection waits for another writer (the CLI, the audit thread). */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

export function sqlitePragmas(db: BetterSqlite3.Database): void {
  db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  // FULL: a commit is on disk when it returns; the audit log's durable appends rely on it.
  db.pragma('synchronous = FULL');
}
