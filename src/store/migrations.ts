// Schema migrations for both dialects, provided in code (no migration files to ship or
// find at run time). Each migration gets the dialect because integer widths differ:
// Postgres needs bigint for seq and ms timestamps, SQLite's integer is already 64-bit.
import { sql, type Kysely } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';

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

/** Identity: local users (local mode) and revoked gateway tokens (so every replica refuses them). */
function identity(dialect: Dialect): Migration {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('local_users')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('created_at', int, (c) => c.notNull())
        .addColumn('disabled_at', int)
        .execute();
      await db.schema
        .createTable('revoked_tokens')
        .addColumn('jti', 'text', (c) => c.primaryKey())
        .addColumn('revoked_at', int, (c) => c.notNull())
        // after this the token is dead anyway and the row can go
        .addColumn('expires_at', int, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('revoked_tokens_revoked').on('revoked_tokens').column('revoked_at').execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ['revoked_tokens', 'local_users']) await db.schema.dropTable(t).execute();
    },
  };
}

// Just-in-time approvals (src/reviews): one row per review, command or access request,
// and one row per vote. `open_key` is set while a command review is pending or approved
// and unique, so an identical command of the same requester reuses the open review even
// when two gateways race to create it; NULLs do not collide on either dialect.
function reviews(dialect: Dialect): Migration {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('reviews')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('connection', 'text', (c) => c.notNull())
        .addColumn('command_hash', 'text')
        .addColumn('open_key', 'text', (c) => c.unique())
        .addColumn('command', 'text')
        .addColumn('params', 'text')
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('rule', 'text')
        .addColumn('requester_subject', 'text', (c) => c.notNull())
        .addColumn('requester_name', 'text', (c) => c.notNull())
        .addColumn('requester', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text')
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('approvals_needed', int, (c) => c.notNull())
        .addColumn('timeout_ms', int, (c) => c.notNull())
        .addColumn('duration_ms', int)
        .addColumn('created_at', int, (c) => c.notNull())
        .addColumn('expires_at', int, (c) => c.notNull())
        .addColumn('decided_at', int)
        .addColumn('used_at', int)
        .execute();
      await db.schema.createIndex('reviews_status').on('reviews').columns(['status', 'expires_at']).execute();
      await db.schema.createIndex('reviews_grants').on('reviews').columns(['requester_subject', 'connection', 'kind', 'status']).execute();
      await db.schema.createIndex('reviews_created').on('reviews').column('created_at').execute();

      await db.schema
        .createTable('review_votes')
        .addColumn('review_id', 'text', (c) => c.notNull())
        .addColumn('voter_subject', 'text', (c) => c.notNull())
        .addColumn('voter_name', 'text', (c) => c.notNull())
        .addColumn('vote', 'text', (c) => c.notNull())
        .addColumn('comment', 'text')
        .addColumn('at', int, (c) => c.notNull())
        .addPrimaryKeyConstraint('review_votes_pk', ['review_id', 'voter_subject'])
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ['review_votes', 'reviews']) await db.schema.dropTable(t).execute();
    },
  };
}

/** Facts about the deployment that must hold once per store, whichever replica or restart asks (e.g. the bootstrap admin was minted). */
function gatewayState(dialect: Dialect): Migration {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('gateway_state')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('set_at', int, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('gateway_state').execute();
    },
  };
}

// Signed heads of the audit chain (src/audit/head.ts): one per group commit, one per
// idle interval. The old `checkpoints` table stays, read-only: verify still checks the
// checkpoints a chain written before this migration carries.
function signedHeads(dialect: Dialect): Migration {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('signed_heads')
        .addColumn('n', int, (c) => c.primaryKey())
        .addColumn('seq', int, (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('prev', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('signed_heads').execute();
    },
  };
}

// MySQL clients that can only scramble with mysql_native_password prove an API key by
// SHA1(SHA1(token)), kept with the key from its creation (keys made before have none).
const apiKeyNativeVerifier: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('api_keys').addColumn('native_verifier', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('api_keys').dropColumn('native_verifier').execute();
  },
};

// LLM token usage per UTC day, connection and identity, and the holds of requests in flight (src/usage/ledger.ts). The row with
// identity '*' is the connection's total: every reservation updates it first, so one row
// lock orders all concurrent requests on a connection, on one gateway or several.
function llmUsage(dialect: Dialect): Migration {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('llm_usage')
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('connection', 'text', (c) => c.notNull())
        .addColumn('identity', 'text', (c) => c.notNull())
        .addColumn('identity_name', 'text', (c) => c.notNull())
        .addColumn('input_tokens', int, (c) => c.notNull().defaultTo(0))
        .addColumn('output_tokens', int, (c) => c.notNull().defaultTo(0))
        .addColumn('requests', int, (c) => c.notNull().defaultTo(0))
        .addColumn('refused', int, (c) => c.notNull().defaultTo(0))
        .addColumn('reserved', int, (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('llm_usage_pk', ['day', 'connection', 'identity'])
        .execute();
      // each request's hold, with a lease its gateway renews: a gateway that dies mid-request
      // leaves a hold that expires, and the next refusal on the connection releases it
      await db.schema
        .createTable('llm_holds')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('connection', 'text', (c) => c.notNull())
        .addColumn('identity', 'text', (c) => c.notNull())
        .addColumn('tokens', int, (c) => c.notNull())
        .addColumn('expires_at', int, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('llm_holds_expiry').on('llm_holds').columns(['connection', 'expires_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('llm_holds').execute();
      await db.schema.dropTable('llm_usage').execute();
    },
  };
}

/** SSH public keys registered to identities (src/store/ssh-keys.ts). */
function sshKeys(dialect: Dialect): Migration {
  const int = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('ssh_keys')
        .addColumn('fingerprint', 'text', (c) => c.primaryKey())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('comment', 'text', (c) => c.notNull())
        .addColumn('owner_kind', 'text', (c) => c.notNull())
        .addColumn('owner_subject', 'text', (c) => c.notNull())
        .addColumn('owner_name', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('api_key_id', 'text')
        .addColumn('credential_ids', 'text', (c) => c.notNull())
        .addColumn('created_at', int, (c) => c.notNull())
        .addColumn('expires_at', int)
        .addColumn('revoked_at', int)
        .execute();
      await db.schema.createIndex('ssh_keys_owner').on('ssh_keys').columns(['owner_kind', 'owner_subject']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('ssh_keys').execute();
    },
  };
}

// `warden sessions list --command` walks command events newest first (store/command-search.ts);
// a partial index keeps that walk to command events, not results and the rest, and costs
// the write path one small entry per command.
const commandEvents: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('events_commands').on('events').column('seq').where(sql.ref('type'), '=', 'command').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('events_commands').execute();
  },
};

// The SQLite writer's journal (src/audit/journal.ts): how far the store has indexed it,
// moved in the same transaction as the rows it indexes. Postgres stores keep 0, 0.
const auditJournal: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('chain_head').addColumn('journal_gen', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('chain_head').addColumn('journal_offset', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('chain_head').dropColumn('journal_offset').execute();
    await db.schema.alterTable('chain_head').dropColumn('journal_gen').execute();
  },
};

function provider(dialect: Dialect): MigrationProvider {
  return {
    getMigrations: async () => ({
      '0001_initial': initial(dialect),
      '0002_identity': identity(dialect),
      '0003_reviews': reviews(dialect),
      '0004_gateway_state': gatewayState(dialect),
      '0005_signed_heads': signedHeads(dialect),
      '0006_api_key_native_verifier': apiKeyNativeVerifier,
      '0007_llm_usage': llmUsage(dialect),
      '0008_ssh_keys': sshKeys(dialect),
      '0009_command_events': commandEvents,
      '0010_audit_journal': auditJournal,
    }),
  };
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
