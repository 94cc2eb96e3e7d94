// Schema migrations for both dialects, provided in code (no migration files to ship or
// find at run time). Each migration gets the dialect because integer widths differ:
// Postgres needs bigint for seq and ms timestamps, SQLite's integer is already 64-bit.
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** The first event's prevHash; the chain head starts here (kept in sync with audit/canonical.ts). */
const GENESIS_HASH = '0'.repeat(64);

function initial(dialect: Dialect): Migration {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('created_at', int, (c) => c.notNull())
        .addColumn('expires_at', int)
        .addColumn('revoked_at', int)
        .addColumn('last_used_at', int)
        .execute();
      await db.schema.createIndex('api_keys_name').on('api_keys').column('name').execute();

      await db.schema
        .createTable('events')
        .addColumn('seq', int, (c) => c.primaryKey())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text')
        .addColumn('actor', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      // (session_id, seq) serves "this session's events in order" without a sort.
      await db.schema.createIndex('events_session').on('events').columns(['session_id', 'seq']).execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('connection', 'text', (c) => c.notNull())
        .addColumn('connection_type', 'text')
        .addColumn('protocol', 'text', (c) => c.notNull())
        .addColumn('identity_name', 'text', (c) => c.notNull())
        .addColumn('identity', 'text', (c) => c.notNull())
        .addColumn('client_addr', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('end_reason', 'text')
        .addColumn('commands', int, (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('sessions_started').on('sessions').column('started_at').execute();
      await db.schema.createIndex('sessions_connection').on('sessions').columns(['connection', 'started_at']).execute();

      await db.schema
        .createTable('checkpoints')
        .addColumn('seq', int, (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('chain_head')
        .addColumn('id', int, (c) => c.primaryKey())
        .addColumn('seq', int, (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.insertInto('chain_head').values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ['chain_head', 'checkpoints', 'sessions', 'events', 'api_keys']) await db.schema.dropTable(t).execute();
    },
  };
}

function provider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => ({ '0001_initial': initial(dialect) }) };
}

/** Bring the schema up to date; throws with the failing migration's error. */
export async function migrate(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({ db, provider: provider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`store migration ${failed ?? ''} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}
