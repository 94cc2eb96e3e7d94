// A result's columns get the sources their statement's lineage names, resolved through
// the table catalog (views into their definitions), and masking takes a source's rule.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initPostgresParser } from '../../src/sql/postgres.ts';
import { pgLineage } from '../../src/sql/pg-lineage.ts';
import { TableCatalog, type CatalogQuery } from '../../src/protocols/postgres/catalog.ts';
import { attachSources } from '../../src/protocols/postgres/lineage.ts';
import type { FieldDescription } from '../../src/protocols/postgres/messages.ts';
import { compileMasker } from '../../src/masking/index.ts';
import type { PgColumn } from '../../src/protocols/postgres/value-types.ts';
import { pgResult } from '../helpers/pg-masking.ts';

before(() => initPostgresParser());

const TEXT = 25, INT8 = 20, INT4 = 23;
// oid, schema, table, attnum, column, type, relkind, view definition
const TABLES: Record<string, (string | null)[][]> = {
  people: [
    ['16400', 'public', 'people', '1', 'id', '23', 'r', null],
    ['16400', 'public', 'people', '2', 'name', '25', 'r', null],
    ['16400', 'public', 'people', '3', 'ssn', '25', 'r', null],
    ['16400', 'public', 'people', '4', 'password_attempts', '23', 'r', null],
  ],
  people_v: [
    ['16600', 'public', 'people_v', '1', 'tax', '25', 'v', ' SELECT people.ssn AS tax,\n    people.name\n   FROM people;'],
    ['16600', 'public', 'people_v', '2', 'name', '25', 'v', null],
  ],
};
const OIDS: Record<string, string> = { people: '16400', people_v: '16600' };

function fakeCatalog(opts: { fail?: boolean } = {}) {
  const calls: string[] = [];
  const query: CatalogQuery = async (sql) => {
    calls.push(sql);
    if (opts.fail) throw new Error('no lookup');
    if (sql.includes('to_regclass')) return [...sql.matchAll(/E'"([^"]+)"'/g)].map((m) => [`"${m[1]}"`, OIDS[m[1]!] ?? null]);
    const oids = /'\{([\d,]+)\}'/.exec(sql)![1]!.split(',');
    return Object.values(TABLES).flat().filter((r) => oids.includes(r[0]!));
  };
  return { catalog: new TableCatalog(query), calls };
}

const field = (name: string, typeOid = TEXT, tableOid = 0, column = 0): FieldDescription => ({ name, tableOid, column, typeOid, typeSize: -1, typeMod: -1, format: 0 });
/** As the door describes a column: a table's own (people's, here) by its names. */
const infoOf = (f: FieldDescription): PgColumn => ({
  name: f.name,
  typeOid: f.typeOid,
  format: f.format,
  ...(f.tableOid === 0 ? { computed: true } : f.tableOid === 16400 ? { table: 'people', schema: 'public', column: f.name } : {}),
});

/** Attach sources as the tracker does: wait for lookups until there are none. */
async function resolve(sql: string, fields: FieldDescription[], catalog: TableCatalog | null): Promise<PgColumn[]> {
  for (let round = 0; round < 5; round++) {
    const infos = fields.map(infoOf);
    const r = attachSources(infos, fields, pgLineage(sql)[0] ?? null, catalog, Date.now());
    if (!(r instanceof Promise)) return infos;
    await r;
  }
  throw new Error('still waiting');
}

const masker = compileMasker({ hmacKey: 'k'.repeat(32), columns: [{ match: 'people.ssn' }, { match: '*.note*', action: 'skip' }] });
const masked = (infos: PgColumn[], values: (string | null)[]) => pgResult(masker, infos).maskRow(values);

test('a computed column takes the rule of the column it is computed from; the others stay', async () => {
  const { catalog, calls } = fakeCatalog();
  const fields = [field('upper'), field('x', INT8), field('n', TEXT), field('note', TEXT)];
  const infos = await resolve("SELECT upper(ssn), replace(ssn, '-', '')::int8 AS x, upper(name) AS n, ssn || '' AS note FROM people", fields, catalog);
  assert.deepEqual(infos[0]!.sources?.map((s) => `${s.table}.${s.column}`), ['people.ssn']);
  assert.deepEqual(masked(infos, ['078-05-1120', '78051120', 'SUNNY', '078-05-1120']), ['[SSN]', null, 'SUNNY', '[SSN]']);
  assert.equal(calls.filter((c) => c.includes('to_regclass')).length, 1, 'one name lookup for the statement');
  // Once known, no more lookups.
  await resolve('SELECT upper(ssn) FROM people', [field('upper')], catalog);
  assert.equal(calls.length, 2);
});

test('built-in rules judge a source by its own type: a count of attempts is no password', async () => {
  const { catalog } = fakeCatalog();
  const m = compileMasker({ hmacKey: 'k'.repeat(32) });
  const infos = await resolve('SELECT password_attempts + 1 AS a, upper(ssn) AS b FROM people', [field('a', INT4), field('b')], catalog);
  assert.deepEqual(pgResult(m, infos).maskRow(['3', '078-05-1120']), ['3', '[SSN]']);
});

test('whole rows and views: every column of the table, a view column by its definition', async () => {
  const { catalog } = fakeCatalog();
  const whole = await resolve('SELECT row_to_json(p) AS j FROM people p', [field('j', 114)], catalog);
  assert.deepEqual(masked(whole, ['{"ssn":"078-05-1120"}']), ['"[SSN]"']);
  // `SELECT p FROM people p`: the target names the table with attribute 0.
  await catalog.load([16400, 16600]);
  const row = await resolve('SELECT p FROM people p', [field('p', 16401, 16400, 0)], catalog);
  assert.deepEqual(masked(row, ['(1,Sunny,078-05-1120,0)']), ['[SSN]']);
  const view = await resolve('SELECT tax, name FROM people_v', [field('tax', TEXT, 16600, 1), field('name', TEXT, 16600, 2)], catalog);
  assert.deepEqual(masked(view, ['078-05-1120', 'Sunny']), ['[SSN]', 'Sunny']);
  const over = await resolve('SELECT lower(tax) AS t, lower(name) AS n FROM people_v', [field('t'), field('n')], catalog);
  assert.deepEqual(masked(over, ['078-05-1120', 'sunny']), ['[SSN]', 'sunny']);
});

test('fail closed: no statement text, an opaque statement, a table nobody can look up', async () => {
  const fields = [field('v')];
  const noText = [infoOf(fields[0]!)];
  assert.equal(attachSources(noText, fields, null, null, Date.now()), true);
  assert.deepEqual(masked(noText, ['Sunny']), ['[MASKED]']);
  assert.deepEqual(masked(await resolve('FETCH ALL FROM c', fields, null), ['Sunny']), ['[MASKED]']);
  const { catalog } = fakeCatalog({ fail: true });
  assert.deepEqual(masked(await resolve('SELECT upper(name) AS v FROM people', fields, catalog), ['SUNNY']), ['[MASKED]']);
  // An unknown output (a function in FROM) carries what the statement references.
  const ok = fakeCatalog().catalog;
  assert.deepEqual(masked(await resolve('SELECT x AS v FROM people p, unnest(ARRAY[p.ssn]) x', fields, ok), ['078-05-1120']), ['[SSN]']);
  assert.deepEqual(masked(await resolve('SELECT x AS v FROM people p, unnest(ARRAY[p.name]) x', fields, ok), ['Sunny']), ['Sunny']);
  // With no mask rule at all, nothing unresolved is masked (there is nothing to protect).
  const none = compileMasker({ hmacKey: 'k'.repeat(32), defaultColumns: false });
  assert.deepEqual(pgResult(none, noText).maskRow(['Sunny']), ['Sunny']);
});

test('a plain column of a statement that writes it carries what was written; lookups stop when told', async () => {
  const { catalog } = fakeCatalog();
  await catalog.load([16400]);
  const fields = [field('name', TEXT, 16400, 2)];
  const infos = await resolve('UPDATE people SET name = ssn RETURNING name', fields, catalog);
  assert.deepEqual(masked(infos, ['078-05-1120']), ['[SSN]']);
  // `final`: a table still unknown counts as unresolved instead of another wait.
  const fresh = fakeCatalog().catalog;
  const f2 = [field('u')];
  const i2 = f2.map(infoOf);
  assert.equal(attachSources(i2, f2, pgLineage('SELECT upper(name) FROM people')[0]!, fresh, Date.now(), true), true);
  assert.deepEqual(masked(i2, ['SUNNY']), ['[MASKED]']);
});

test('a derived value is never shown partially: its partial form would show other parts', async () => {
  const { catalog } = fakeCatalog();
  const m = compileMasker({ hmacKey: 'k'.repeat(32), columns: [{ match: 'people.ssn', style: 'partial' }, { match: 'people.name', style: 'hash' }] });
  const infos = await resolve('SELECT reverse(ssn) AS r, ssn, upper(name) AS h FROM people', [field('r'), field('ssn', TEXT, 16400, 3), field('h')], catalog);
  const out = pgResult(m, infos).maskRow(['0211-50-870', '078-05-1120', 'SUNNY']);
  assert.deepEqual(out.slice(0, 2), ['[SSN]', '***-**-1120']);
  assert.match(out[2]!, /^\[MASKED:[0-9a-f]{16}\]$/, 'hash keeps its style: nothing of the value shows');
});
