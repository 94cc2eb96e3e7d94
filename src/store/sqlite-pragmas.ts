// Pragmas every SQLite connection of the store uses: the main (Kysely) connection and
// the audit writer thread's own. Kept apart from open.ts so the writer thread does not
// load Kysely and pg just to set them.
import type { DatabaseSync } from 'node:sqlite';

/** How long a connection waits for another writer (the CLI, the audit thread). */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

export function sqlitePragmas(db: DatabaseSync): void {
  db.exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  db.exec('PRAGMA journal_mode = WAL');
  // FULL: a commit is on disk when it returns; the audit log's durable appends rely on it.
  db.exec('PRAGMA synchronous = FULL');
}
