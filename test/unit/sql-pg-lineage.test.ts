// Column lineage on the real parser: which table columns each output of a statement may
// carry, through every scoping construct, and where it cannot be known.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initPostgresParser } from '../../src/sql/postgres.ts';
import { clearLineageCache, lineageOfColumn, pgLineage, type LineageSource, type OutputLineage, type StatementLineage } from '../../src/sql/pg-lineage.ts';

before(() => initPostgresParser());

const name = (s: LineageSource) => `${s.schema ? `${s.schema}.` : ''}${s.table}.${s.column ?? '*'}`;
/** An output as sorted source names, `?` when unknown, `...` when it expands. */
const show = (o: OutputLineage) => [...o.sources.map(name).sort(), ...(o.unknown ? ['?'] : []), ...(o.expands ? ['...'] : [])];
const lineage = (sql: string, i = 0): StatementLineage => {
  const l = pgLineage(sql)[i];
  assert.ok(l, sql);
  return l;
};
const outputs = (sql: string, i = 0) => lineage(sql, i).outputs.map(show);

test('expressions carry their columns: operators, casts, functions, CASE, JSON builders, aggregates', () => {
  assert.deepEqual(outputs("SELECT ssn || '' AS a, ssn::int8, upper(email), md5(password), substr(ssn, 1, 3), substr(ssn, 4) FROM people"), [
    ['people.ssn'], ['people.ssn'], ['people.email'], ['people.password'], ['people.ssn'], ['people.ssn'],
  ]);
  assert.deepEqual(outputs("SELECT CASE WHEN ssn LIKE '0%' THEN 'a' ELSE name END, jsonb_build_object('x', email), string_agg(ssn, ','), coalesce(nick, email) COLLATE \"C\" FROM people"), [
    ['people.name', 'people.ssn'], ['people.email'], ['people.ssn'], ['people.email', 'people.nick'],
  ]);
  // Only presence: count() and IS NULL carry nothing; filters and orderings are references only.
  const l = lineage('SELECT count(ssn), email IS NULL, 1, now() FROM people WHERE password = $1 ORDER BY dob');
  assert.deepEqual(l.outputs.map(show), [[], [], [], []]);
  assert.deepEqual(l.references.map(name).sort(), ['people.dob', 'people.email', 'people.password', 'people.ssn']);
  assert.equal(l.exact, true);
  assert.equal(l.opaque, false);
});

test('aliases, qualified names and schemas; an unqualified name with several FROM items is any of them', () => {
  assert.deepEqual(outputs('SELECT upper(p.ssn), upper(public.people.ssn), lower(x.ssn) FROM people p, public.people, hr.staff x'), [
    ['people.ssn'], ['public.people.ssn'], ['hr.staff.ssn'],
  ]);
  assert.deepEqual(outputs('SELECT upper(ssn) FROM people p JOIN pets USING (id)'), [['people.ssn', 'pets.ssn']]);
  assert.deepEqual(outputs('SELECT upper(note) FROM (people p JOIN pets q ON p.id = q.owner) AS j'), [['people.note', 'pets.note']]);
  // `(p).ssn` is p's column; renamed columns of a table are not known here: its whole row.
  assert.deepEqual(outputs('SELECT upper((p).ssn), upper(a) FROM people p, clean c(a)'), [['people.ssn'], ['clean.*', 'people.a']]);
});

test('whole rows: a bare alias, row_to_json, t.* inside an expression, ROW(...)', () => {
  assert.deepEqual(outputs('SELECT row_to_json(p), to_jsonb(p.*), ROW(p.*), p FROM people p'), [
    ['people.*', 'people.p'], ['people.*'], ['people.*'], ['people.*', 'people.p'],
  ]);
  // A subquery's whole row is its outputs.
  assert.deepEqual(outputs('SELECT row_to_json(s) FROM (SELECT ssn, 1 AS one FROM people) s'), [['people.ssn']]);
});

test('subqueries in FROM, CTEs (recursive too), LATERAL, scalar subqueries', () => {
  assert.deepEqual(outputs('SELECT upper(s.x), s.y + 1 FROM (SELECT ssn AS x, id AS y FROM people) s'), [['people.ssn'], ['people.id']]);
  assert.deepEqual(outputs('SELECT upper(a) FROM (SELECT ssn, name FROM people) s(a, b)'), [['people.ssn']]);
  assert.deepEqual(outputs("WITH c AS (SELECT email AS e FROM people), d AS (SELECT e || '' AS f FROM c) SELECT lower(f) FROM d"), [['people.email']]);
  assert.deepEqual(outputs("WITH RECURSIVE r(v, k) AS (SELECT ssn, 1 FROM people UNION ALL SELECT v || 'x', k + 1 FROM r) SELECT upper(v), k FROM r"), [['people.ssn'], []]);
  // A CTE hides a table of the same name; a schema-qualified name is the table.
  assert.deepEqual(outputs('WITH people AS (SELECT 1 AS ssn) SELECT upper(ssn::text), (SELECT upper(ssn) FROM public.people LIMIT 1) FROM people'), [[], ['public.people.ssn']]);
  assert.deepEqual(outputs('SELECT l.v FROM clean c, LATERAL (SELECT lower(p.email) AS v FROM people p WHERE p.id = c.id) l'), [['people.email']]);
  assert.deepEqual(outputs('SELECT (SELECT max(password) FROM people p WHERE p.id = c.id), ARRAY(SELECT email FROM people) FROM clean c'), [
    ['clean.password', 'people.password'], ['clean.email', 'people.email'],
  ]);
  // A star over a subquery of known width is exact.
  const l = lineage('SELECT * FROM (SELECT upper(ssn) AS u, id FROM people) s');
  assert.equal(l.exact, true);
  assert.deepEqual(l.outputs.map(show), [['people.ssn'], ['people.id']]);
});

test('set operations: output i is every branch\'s output i; VALUES by position', () => {
  assert.deepEqual(outputs('SELECT name, id FROM clean UNION ALL SELECT ssn, id FROM people EXCEPT SELECT email, 1 FROM people'), [
    ['clean.name', 'people.email', 'people.ssn'], ['clean.id', 'people.id'],
  ]);
  // A branch of unknown width adds its all to every column of the other.
  assert.deepEqual(outputs('SELECT * FROM people UNION SELECT a, b FROM clean'), [['clean.a', 'people.*'], ['clean.b', 'people.*']]);
  assert.deepEqual(outputs("SELECT * FROM (VALUES (1, 'a'), (2, (SELECT ssn FROM people LIMIT 1))) v(n, s)"), [[], ['people.ssn']]);
});

test('a top-level star expands to an unknown number of columns; the outputs around it still map', () => {
  const l = lineage('SELECT upper(ssn), p.*, lower(email) FROM people p');
  assert.equal(l.exact, false);
  assert.deepEqual(l.outputs.map(show), [['people.ssn'], ['people.*', '...'], ['people.email']]);
  assert.deepEqual(show(lineageOfColumn(l, 0, 6)), ['people.ssn']);
  assert.deepEqual(show(lineageOfColumn(l, 5, 6)), ['people.email']);
  assert.deepEqual(show(lineageOfColumn(l, 3, 6)), ['people.*', '...']);
  // Fewer result columns than the outputs around the star need: nothing maps.
  assert.deepEqual(show(lineageOfColumn(l, 0, 1)), ['?']);
  // An exact list of another length (the target disagrees): nothing maps either.
  assert.deepEqual(show(lineageOfColumn(lineage('SELECT upper(ssn) FROM people'), 0, 2)), ['?']);
});

test('INSERT, UPDATE, MERGE ... RETURNING: a target column carries what was written to it', () => {
  const ins = lineage('INSERT INTO clean (id, name) SELECT id, ssn FROM people RETURNING name, id, upper(note)');
  assert.equal(ins.assigns, true);
  assert.deepEqual(ins.outputs.map(show), [['clean.name', 'people.ssn'], ['clean.id', 'people.id'], ['clean.note']]);
  // Without a column list the order of the table's columns is not known: any column carries any value.
  assert.deepEqual(outputs("INSERT INTO clean SELECT 1, email FROM people RETURNING note"), [['clean.note', 'people.email']]);
  assert.deepEqual(outputs('UPDATE clean c SET name = p.ssn FROM people p WHERE p.id = c.id RETURNING c.name, old.name, id'), [
    ['clean.name', 'people.ssn'], ['clean.name', 'people.ssn'], ['clean.id', 'people.id'],
  ]);
  assert.deepEqual(outputs('INSERT INTO clean (id, name) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET name = excluded.name || (SELECT ssn FROM people LIMIT 1) RETURNING name'), [
    ['clean.name', 'clean.ssn', 'people.ssn'], // `ssn` alone may be the outer target's too
  ]);
  assert.deepEqual(outputs('MERGE INTO clean c USING people p ON c.id = p.id WHEN MATCHED THEN UPDATE SET name = p.ssn WHEN NOT MATCHED THEN INSERT (id, note) VALUES (p.id, p.email) RETURNING c.name, c.note'), [
    ['clean.name', 'people.ssn'], ['clean.note', 'people.email'],
  ]);
  const del = lineage("DELETE FROM clean RETURNING name || ''");
  assert.equal(del.assigns, false);
  assert.deepEqual(del.outputs.map(show), [['clean.name']]);
  // In a WITH, the outer SELECT returns what the INSERT returned.
  const w = lineage('WITH ins AS (INSERT INTO clean SELECT 5, ssn FROM people RETURNING name) SELECT name FROM ins');
  assert.equal(w.assigns, true);
  assert.deepEqual(w.outputs.map(show), [['clean.name', 'people.ssn']]);
});

test('what cannot be seen through: functions in FROM are unknown; cursors, EXECUTE, dynamic SQL are opaque', () => {
  const f = lineage('SELECT x, upper(x) FROM people p, LATERAL unnest(ARRAY[p.ssn]) x');
  assert.deepEqual(f.outputs.map(show), [['people.ssn', 'people.x', '?'], ['people.ssn', 'people.x', '?']]); // x: p's too, maybe
  assert.deepEqual(f.references.map(name).sort(), ['people.ssn', 'people.x']);
  assert.deepEqual(outputs('SELECT g FROM generate_series(1, 3) g'), [['?']]);
  for (const sql of ['FETCH ALL FROM c', 'EXECUTE q(1)', 'CALL p()', "SELECT query_to_xml('select ssn from people', true, true, '')", 'SELECT ((((', 'SELECT * FROM XMLTABLE(\'/r\' PASSING x COLUMNS a text) t, people']) {
    assert.equal(lineage(sql).opaque, sql.includes('XMLTABLE') ? false : true, sql);
  }
  // A plan or a setting holds no table data.
  for (const sql of ['EXPLAIN SELECT ssn FROM people', 'SHOW search_path']) {
    const l = lineage(sql);
    assert.equal(l.opaque, false);
    assert.deepEqual(l.references, []);
  }
});

test('several statements, one lineage each; cached by text and by literal shape', () => {
  const all = pgLineage("SELECT 1; SELECT upper(ssn) FROM people WHERE id = 1; UPDATE t SET a = 'x' RETURNING a");
  assert.equal(all.length, 3);
  assert.deepEqual(all[1]!.outputs.map(show), [['people.ssn']]);
  clearLineageCache();
  const a = pgLineage("SELECT upper(ssn) FROM people WHERE id = 1 AND name = 'x'");
  assert.equal(pgLineage("SELECT upper(ssn) FROM people WHERE id = 1 AND name = 'x'"), a, 'same text');
  assert.equal(pgLineage("SELECT upper(ssn) FROM people WHERE id = 22 AND name = 'yy'"), a, 'same shape');
});

test('deep nesting and runaway work are opaque, not a crash or a stalled event loop', () => {
  // Recursive CTEs nested in each other's rounds: each level multiplies the walk.
  let nested = 'SELECT ssn FROM people';
  for (let i = 0; i < 16; i++) nested = `WITH RECURSIVE r${i}(v) AS (SELECT v FROM (${nested}) s(v) UNION ALL SELECT v || 'x' FROM r${i} WHERE (SELECT count(*) FROM (WITH RECURSIVE z${i}(w) AS (SELECT 1 UNION ALL SELECT w FROM z${i}) SELECT w FROM z${i}) zz) > 0) SELECT v FROM r${i}`;
  assert.equal(pgLineage(nested)[0]!.opaque, true);
  const deep = `SELECT ${'('.repeat(3000)}ssn${')'.repeat(3000)} FROM people`;
  const l = pgLineage(deep)[0]!;
  assert.ok(l.opaque || show(l.outputs[0]!).includes('people.ssn'));
  const concat = `SELECT ssn${" || 'x'".repeat(2000)} FROM people`;
  const c = pgLineage(concat)[0]!;
  assert.ok(c.opaque || show(c.outputs[0]!).includes('people.ssn'));
});
