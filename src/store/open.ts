// Opening the store: SQLite in the data dir (the embedded default) or Postgres (several
// gateway replicas). Either way callers get one Kysely handle over the same schema,
// already migrated.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { Database } from './schema.ts';
import { migrate } from './migrations.ts';
import { isSqliteBusy, kyselyDatabase } from './node-sqlite.ts';
import { sqlitePragmas } from './sqlite-pragmas.ts';
import { journalGenerations } from '../audit/journal.ts';

export interface Store {
  kind: 'sqlite' | 'postgres';
  db: Kysely<Database>;
  /** the SQLite file (sqlite only): the audit writer opens its own connection to it */
  file?: string;
  /** the pool under `db` (postgres only): the audit writer keeps one client of it */
  pgPool?: pg.Pool;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** 'sqlite' or a postgres:// (postgresql://) URL */
  store: string;
  dataDir: string;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (opts.store === 'sqlite') return openSqlite(opts.dataDir);
  if (/^postgres(ql)?:\/\//.test(opts.store)) return openPostgres(opts.store);
  throw new Error(`gateway.store must be "sqlite" or a postgres:// URL, got ${JSON.stringify(redact(opts.store))}`);
}

async function openSqlite(dataDir: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'warden.db');
  const conn = new DatabaseSync(file);
  sqlitePragmas(conn);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: kyselyDatabase(conn) }) });
  try {
    await withBusyRetry(() => migrate(db, 'sqlite'));
  } catch (e) {
    await db.destroy();
    throw e;
  }
  // A strict gateway's durable events may still be in its journal only (it was killed):
  // index them before anyone reads (src/audit/journal.ts). A failure here (a chain that
  // does not verify) is the gateway's to report when its writer opens; readers go on.
  if (journalGenerations(dataDir).length > 0) {
    try {
      const { recoverJournal } = await import('../audit/journal-recovery.ts');
      recoverJournal(file, dataDir);
    } catch {
      /* reported by the writer (SqliteChainWriter.ready) */
    }
  }
  return { kind: 'sqlite', db, file, close: () => db.destroy() };
}

// Two processes opening a fresh file at once can race on the first migration; SQLite
// then reports "database is locked" to the loser, who finds the schema there on retry.
async function withBusyRetry(fn: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= 5 || !isSqliteBusy(e)) throw e;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

async function openPostgres(url: string): Promise<Store> {
  // The driver is loaded only for a Postgres store: the embedded default (and every CLI
  // command on it) starts without it.
  const { default: pg } = await import('pg');
  // pg returns int8 as strings (it can exceed 2^53); our seqs and ms times never will, and
  // the repositories want the same numbers from both dialects. Per pool, not global.
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({ connectionString: url, max: 10, types });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrate(db, 'postgres');
  } catch (e) {
    await db.destroy();
    throw new Error(`could not open the Postgres store at ${redact(url)}: ${(e as Error).message}`, { cause: e });
  }
  return { kind: 'postgres', db, pgPool: pool, close: () => db.destroy() };
}

/** A store URL without its password, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
