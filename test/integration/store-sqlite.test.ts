// The store on the embedded default: the shared repository suite, and the SQLite
// settings durability relies on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.ts';
import { storeSuite } from './store-suite.ts';

let dataDir = '';
before(async () => {
  dataDir = join(await mkdtemp(join(tmpdir(), 'warden-store-')), 'data'); // openStore creates it
});
after(async () => {
  if (dataDir) await rm(join(dataDir, '..'), { recursive: true, force: true });
});

storeSuite(() => ({ name: 'sqlite', store: 'sqlite', dataDir }));

describe('SQLite store settings', () => {
  it('keeps warden.db in the data dir with WAL, synchronous=FULL and a busy timeout', async () => {
    const store = await openStore({ store: 'sqlite', dataDir });
    try {
      assert.equal(store.kind, 'sqlite');
      assert.equal(store.file, join(dataDir, 'warden.db'));
      assert.ok((await stat(store.file)).isFile());
      const one = async (q: string) => Object.values((await sql.raw(q).execute(store.db)).rows[0] as object)[0];
      assert.equal(await one('PRAGMA journal_mode'), 'wal');
      assert.equal(await one('PRAGMA synchronous'), 2); // FULL
      assert.ok(Number(await one('PRAGMA busy_timeout')) >= 1000);
    } finally {
      await store.close();
    }
  });
});
