// The embedded store's driver adapter (src/store/node-sqlite.ts): Kysely over node:sqlite
// reads rows from every statement that returns them (RETURNING too), and a locked
// database is recognised as busy, so the first migration's race is retried, not fatal.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { isSqliteBusy, kyselyDatabase } from '../../src/store/node-sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'warden-node-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('Kysely runs statements with and without rows, RETURNING included', async () => {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: kyselyDatabase(new DatabaseSync(join(dir, 'rows.db'))) }) });
  try {
    await sql`CREATE TABLE t (id integer PRIMARY KEY, name text NOT NULL)`.execute(db);
    const inserted = await db.insertInto('t').values({ name: 'a' }).executeTakeFirst();
    assert.equal(inserted.numInsertedOrUpdatedRows, 1n);
    assert.equal(inserted.insertId, 1n);
    const returned = await db.insertInto('t').values({ name: 'b' }).returning(['id', 'name']).execute();
    assert.deepEqual(returned.map((r) => ({ ...r })), [{ id: 2, name: 'b' }]);
    const updated = await db.updateTable('t').set({ name: 'c' }).where('id', '=', 1).executeTakeFirst();
    assert.equal(updated.numUpdatedRows, 1n);
    const rows = await db.selectFrom('t').select(['id', 'name']).orderBy('id').execute();
    assert.deepEqual(rows.map((r) => ({ ...r })), [{ id: 1, name: 'c' }, { id: 2, name: 'b' }]);
  } finally {
    await db.destroy();
  }
});

test('a write while another connection holds the lock is busy; other errors are not', () => {
  const file = join(dir, 'busy.db');
  const holder = new DatabaseSync(file);
  const other = new DatabaseSync(file);
  try {
    holder.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x integer UNIQUE)');
    other.exec('PRAGMA busy_timeout = 0');
    holder.exec('BEGIN IMMEDIATE');
    const busy = catching(() => other.exec('INSERT INTO t VALUES (1)'));
    assert.ok(isSqliteBusy(busy), String(busy));
    assert.ok(isSqliteBusy(new Error('wrapped', { cause: busy })));
    holder.exec('ROLLBACK');
    other.exec('INSERT INTO t VALUES (1)');
    assert.ok(!isSqliteBusy(catching(() => other.exec('INSERT INTO t VALUES (1)')))); // a constraint
    assert.ok(!isSqliteBusy(new Error('SQLITE_BUSY in the message only')));
  } finally {
    holder.close();
    other.close();
  }
});

function catching(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}
