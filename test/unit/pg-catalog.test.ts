// The table-name cache behind table.column masking at the Postgres door: one lookup per
// table however many results ask at once, failures cached as "unknown" (briefly), a hung
// lookup timed out, and names that expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TableCatalog, type CatalogQuery } from '../../src/protocols/postgres/catalog.ts';
import { compileMasker } from '../../src/masking/index.ts';
import type { PgColumn } from '../../src/protocols/postgres/value-types.ts';
import { encodeBackend } from '../../src/protocols/postgres/messages.ts';
import { pgResult } from '../helpers/pg-masking.ts';

const ROWS: Record<number, (string | null)[][]> = {
  16400: [['16400', 'public', 'people', '1', 'id'], ['16400', 'public', 'people', '3', 'ssn']],
  16500: [['16500', 'hr', 'staff', null, null]],
};

function fakeQuery(opts: { fail?: boolean; hang?: boolean } = {}) {
  const calls: string[] = [];
  const query: CatalogQuery = async (sql) => {
    calls.push(sql);
    if (opts.hang) return new Promise(() => {});
    if (opts.fail) throw new Error('permission denied');
    const oids = /'\{([\d,]+)\}'/.exec(sql)![1]!.split(',').map(Number);
    return oids.flatMap((o) => ROWS[o] ?? []);
  };
  return { query, calls };
}

test('names are looked up once per table, also when results ask at the same time', async () => {
  const { query, calls } = fakeQuery();
  const c = new TableCatalog(query);
  assert.deepEqual(c.missing([{ tableOid: 0 }, { tableOid: 16400 }, { tableOid: 16400 }, { tableOid: 16500 }]), [16400, 16500]);
  await Promise.all([c.load([16400, 16500]), c.load([16400])]);
  assert.equal(calls.length, 1);
  const people = c.get(16400)!;
  assert.equal(people.table, 'people');
  assert.equal(people.columns.get(3), 'ssn');
  assert.equal(c.get(16500)!.columns.size, 0, 'a table without columns is still named');
  assert.deepEqual(c.missing([{ tableOid: 16400 }]), []);
});

test('a table the target does not know, or a failed lookup, is unknown for a while, then asked again', async () => {
  const errors: string[] = [];
  const failing = fakeQuery({ fail: true });
  const c = new TableCatalog(failing.query, { failureTtlMs: 30, onFailure: (e) => errors.push(e.message) });
  await c.load([16400]);
  assert.equal(c.get(16400), null);
  assert.deepEqual(errors, ['permission denied']);
  assert.deepEqual(c.missing([{ tableOid: 16400 }]), [], 'no lookup storm while the failure stands');
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(c.missing([{ tableOid: 16400 }]), [16400]);

  const ok = new TableCatalog(fakeQuery().query);
  await ok.load([99999]);
  assert.equal(ok.get(99999), null, 'dropped since the result was described');
});

test('a lookup that hangs times out to unknown, so the result it holds up goes on', async () => {
  const errors: string[] = [];
  const c = new TableCatalog(fakeQuery({ hang: true }).query, { timeoutMs: 20, onFailure: (e) => errors.push(e.message) });
  await c.load([16400]);
  assert.equal(c.get(16400), null);
  assert.match(errors[0]!, /timed out/);
});

test('names expire after the TTL', async () => {
  const { query, calls } = fakeQuery();
  const c = new TableCatalog(query, { ttlMs: 20 });
  await c.load([16400]);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(c.get(16400), undefined);
  await c.load(c.missing([{ tableOid: 16400 }]));
  assert.equal(calls.length, 2);
});

test('rules by table and by name see through aliases; skip rules do not; unknown tables mask more', () => {
  const m = compileMasker({
    hmacKey: 'k'.repeat(32),
    columns: [{ match: 'people.nickname' }, { match: 'hr.staff.salary' }, { match: '*.id', action: 'skip' }, { match: 'id', action: 'skip' }],
  });
  const TEXT = 25, INT4 = 23;
  // A harmless value is replaced only when a rule masks its column (scanning leaves it).
  const masked = (cols: PgColumn[]) => {
    const row = encodeBackend({ type: 'DataRow', values: [Buffer.from(cols[0]!.typeOid === INT4 ? '42' : 'Sunny')] });
    return pgResult(m, cols).maskDataRow(row) !== row;
  };
  // table.column: only that table's column, whatever the label.
  assert.equal(masked([{ name: 'nickname', column: 'nickname', table: 'people', schema: 'public', typeOid: TEXT }]), true);
  assert.equal(masked([{ name: 'n', column: 'nickname', table: 'people', schema: 'public', typeOid: TEXT }]), true);
  assert.equal(masked([{ name: 'nickname', column: 'nickname', table: 'pets', schema: 'public', typeOid: TEXT }]), false);
  // schema.table.column
  assert.equal(masked([{ name: 's', column: 'salary', table: 'staff', schema: 'hr', typeOid: INT4 }]), true);
  assert.equal(masked([{ name: 'salary', column: 'salary', table: 'staff', schema: 'public', typeOid: INT4 }]), false);
  // A built-in rule by name (password) through an alias.
  assert.equal(masked([{ name: 'x', column: 'password', table: 'accounts', schema: 'public', typeOid: TEXT }]), true);
  // A skip rule about `id` does not skip an SSN labelled id.
  assert.equal(masked([{ name: 'id', column: 'ssn', table: 'people', schema: 'public', typeOid: TEXT }]), true);
  // ...but does skip the real id column.
  assert.equal(masked([{ name: 'id', column: 'id', table: 'people', schema: 'public', typeOid: TEXT }]), false);
  // Unknown table: the table rule matches on the column (fail closed), the skip rule does not apply.
  assert.equal(masked([{ name: 'nickname', tableUnknown: true, typeOid: TEXT }]), true);
  assert.equal(masked([{ name: 'nickname', typeOid: TEXT }]), false, 'an expression column has no table');
});

test('names by the statement: several in one lookup, quoted; forget() drops them all', async () => {
  const calls: string[] = [];
  const query: CatalogQuery = async (sql) => {
    calls.push(sql);
    if (sql.includes('to_regclass')) return [['"people"', '16400'], ['"hr"."it\'s"', null]];
    return ROWS[16400]!;
  };
  const c = new TableCatalog(query);
  await c.loadByNames([{ name: 'people' }, { schema: 'hr', name: "it's" }, { name: 'people' }]);
  assert.equal(calls.length, 2, 'one name lookup, one names lookup');
  assert.match(calls[0]!, /to_regclass\(E'"people"'\).*UNION ALL.*to_regclass\(E'"hr"\."it\\'s"'\)/);
  assert.equal(calls[0]!.match(/UNION ALL/g)?.length, 1, 'a name asked twice is looked up once');
  assert.equal(c.oidOf({ name: 'people' }), 16400);
  assert.equal(c.oidOf({ schema: 'hr', name: "it's" }), null);
  assert.equal(c.get(16400)!.columns.get(3), 'ssn');
  // In a session's search path an unqualified name is the first schema that has it.
  await c.loadByNames([{ name: 'people' }], ['pg_temp_3', 'pg_catalog', 'hr']);
  assert.match(calls.at(-1)!, /COALESCE\(pg_catalog\.to_regclass\(E'"pg_temp_3"\."people"'\), pg_catalog\.to_regclass\(E'"pg_catalog"\."people"'\), pg_catalog\.to_regclass\(E'"hr"\."people"'\)\)/);
  c.forget();
  assert.equal(c.oidOf({ name: 'people' }), undefined);
  assert.equal(c.get(16400), undefined);
});
