// The embedded store's SQLite driver: Node's built-in node:sqlite, so nothing is
// compiled at install. Kysely's SqliteDialect drives any database that looks like
// better-sqlite3's; this gives DatabaseSync that shape (bench:audit measured both).
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Kysely's view of a node:sqlite database (the same connection: closing one closes both). */
export function kyselyDatabase(db: DatabaseSync): SqliteDatabase {
  return {
    close: () => db.close(),
    prepare: (sql: string) => kyselyStatement(db.prepare(sql)),
  };
}

function kyselyStatement(st: StatementSync): SqliteStatement {
  // better-sqlite3 says whether a statement returns rows; node:sqlite lists its columns.
  const reader = st.columns().length > 0;
  const args = (params: readonly unknown[]) => params as SQLInputValue[];
  return {
    reader,
    all: (params) => st.all(...args(params)),
    run: (params) => st.run(...args(params)),
    iterate: (params) => st.iterate(...args(params)) as IterableIterator<unknown>,
  };
}

/**
 * Whether an error is SQLite's "busy" (another connection holds the lock). node:sqlite
 * reports the extended result code; its low byte is the primary code (SQLITE_BUSY = 5).
 */
export function isSqliteBusy(e: unknown): boolean {
  const errcode = (e as { errcode?: unknown })?.errcode ?? (e as { cause?: { errcode?: unknown } })?.cause?.errcode;
  return typeof errcode === 'number' && (errcode & 0xff) === 5;
}
