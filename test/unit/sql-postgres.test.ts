import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { classifyPostgres, classifyStats, clearClassifyCache, initPostgresParser, literalShape } from '../../src/sql/postgres.ts';
import { flattenStatements, formatName, type Statement } from '../../src/sql/types.ts';

before(async () => {
  await initPostgresParser();
});

function one(sql: string): Statement {
  const c = classifyPostgres(sql);
  assert.equal(c.statements.length, 1, `one statement in ${sql}`);
  return c.statements[0];
}

describe('statement kinds', () => {
  const cases: [string, string, string][] = [
    ['SELECT 1', 'select', 'read'],
    ['VALUES (1)', 'select', 'read'],
    ['TABLE t', 'select', 'read'],
    ['SELECT * INTO newt FROM t', 'create', 'ddl'],
    ['INSERT INTO t VALUES (1)', 'insert', 'write'],
    ['UPDATE t SET a = 1 WHERE id = 2', 'update', 'write'],
    ['DELETE FROM t WHERE id = 2', 'delete', 'write'],
    ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'merge', 'write'],
    ['CREATE TABLE t (a int)', 'create', 'ddl'],
    ['CREATE INDEX i ON t (a)', 'create', 'ddl'],
    ['CREATE VIEW v AS SELECT 1', 'create', 'ddl'],
    ['CREATE TABLE t2 AS SELECT * FROM t', 'create', 'ddl'],
    ['ALTER TABLE t ADD COLUMN b int', 'alter', 'ddl'],
    ['ALTER TABLE t RENAME TO u', 'alter', 'ddl'],
    ['DROP TABLE t', 'drop', 'ddl'],
    ['TRUNCATE t', 'truncate', 'write'],
    ['GRANT SELECT ON t TO bob', 'grant', 'admin'],
    ['REVOKE SELECT ON t FROM bob', 'revoke', 'admin'],
    ['GRANT admin TO bob', 'grant', 'admin'],
    ['REVOKE admin FROM bob', 'revoke', 'admin'],
    ['CREATE ROLE bob', 'create', 'admin'],
    ['ALTER SYSTEM SET work_mem = 1', 'alter', 'admin'],
    ['COPY t TO STDOUT', 'copy', 'read'],
    ['COPY t FROM STDIN', 'copy', 'write'],
    ['SET ROLE admin', 'set_role', 'admin'],
    ['SET LOCAL ROLE admin', 'set_role', 'admin'],
    ['SET SESSION AUTHORIZATION bob', 'set_role', 'admin'],
    ['RESET ROLE', 'set_role', 'admin'],
    ['RESET SESSION AUTHORIZATION', 'set_role', 'admin'],
    ['RESET ALL', 'set_role', 'admin'],
    ['DISCARD ALL', 'set_role', 'admin'],
    ['SET work_mem = 1', 'set', 'session'],
    ['SET search_path TO public', 'set', 'session'],
    ['DISCARD PLANS', 'set', 'session'],
    ['SHOW work_mem', 'show', 'read'],
    ['DO $$ BEGIN END $$', 'do', 'unknown'],
    ['CALL p(1)', 'call', 'write'],
    ['BEGIN', 'transaction', 'transaction'],
    ['COMMIT', 'transaction', 'transaction'],
    ['ROLLBACK TO SAVEPOINT s', 'transaction', 'transaction'],
    ['SAVEPOINT s', 'transaction', 'transaction'],
    ['PREPARE p AS SELECT 1', 'prepare', 'session'],
    ['EXECUTE p', 'execute', 'session'],
    ['DEALLOCATE p', 'deallocate', 'session'],
    ['EXPLAIN SELECT 1', 'explain', 'read'],
    ['LISTEN ch', 'listen', 'read'],
    ['NOTIFY ch', 'notify', 'write'],
    ['VACUUM t', 'vacuum', 'admin'],
    ['ANALYZE t', 'analyze', 'admin'],
    ['LOCK TABLE t', 'lock', 'write'],
    ['DECLARE c CURSOR FOR SELECT 1', 'declare', 'read'],
    ['FETCH 10 FROM c', 'fetch', 'read'],
    ['REFRESH MATERIALIZED VIEW mv', 'refresh', 'write'],
    ['CHECKPOINT', 'checkpoint', 'admin'],
    ["LOAD 'auto_explain'", 'load', 'admin'],
    ['REINDEX TABLE t', 'other', 'admin'],
  ];
  for (const [sql, kind, category] of cases) {
    test(`${sql} -> ${kind}/${category}`, () => {
      const s = one(sql);
      assert.equal(s.kind, kind);
      assert.equal(s.category, category);
    });
  }
});

describe('what a statement touches', () => {
  test('tables: schema-qualified only when written so, quoted names kept exact', () => {
    const s = one('SELECT * FROM public.a JOIN b ON true JOIN "MiXed" ON true WHERE x IN (SELECT y FROM s.c)');
    assert.deepEqual(s.tables.map(formatName), ['public.a', 'b', 'MiXed', 's.c']);
  });
  test('drop and truncate name their tables', () => {
    assert.deepEqual(one('DROP TABLE a, s.b').tables.map(formatName), ['a', 's.b']);
    assert.deepEqual(one('TRUNCATE a, s.b').tables.map(formatName), ['a', 's.b']);
    assert.deepEqual(one('DROP FUNCTION f(int)').tables, []);
  });
  test('functions anywhere: subquery, FROM, default expression, CALL, schema-qualified', () => {
    assert.deepEqual(one("SELECT (SELECT pg_read_file('x'))").functions.map(formatName), ['pg_read_file']);
    assert.deepEqual(one("SELECT * FROM pg_catalog.pg_read_file('/etc/passwd')").functions.map(formatName), ['pg_catalog.pg_read_file']);
    assert.deepEqual(one("CREATE TABLE t (a text DEFAULT pg_read_file('x'))").functions.map(formatName), ['pg_read_file']);
    assert.deepEqual(one('CALL p(now())').functions.map(formatName), ['p', 'now']);
  });
  test('UPDATE/DELETE without WHERE', () => {
    assert.equal(one('DELETE FROM t').noWhere, true);
    assert.equal(one('UPDATE t SET a = 1').noWhere, true);
    assert.equal(one('DELETE FROM t WHERE true').noWhere, false);
    assert.equal(one('SELECT 1').noWhere, false);
  });
  test('COPY direction, PROGRAM and server files', () => {
    const where = (sql: string) => {
      const c = one(sql).copy!;
      return { direction: c.direction, program: c.program, file: c.file };
    };
    assert.deepEqual(where("COPY t TO PROGRAM 'ls'"), { direction: 'to', program: true, file: false });
    assert.deepEqual(where("COPY t FROM '/tmp/x'"), { direction: 'from', program: false, file: true });
    assert.deepEqual(where('COPY t FROM STDIN'), { direction: 'from', program: false, file: false });
  });
  test('opaque: DO, dynamic-SQL functions, unknown EXECUTE', () => {
    assert.equal(one('DO $$ BEGIN END $$').opaque, true);
    assert.equal(one("SELECT query_to_xml('select * from secrets', true, true, '')").opaque, true);
    assert.equal(one("SELECT * FROM dblink('db', 'delete from t') AS x(a int)").opaque, true);
    assert.equal(one('EXECUTE p').opaque, true);
    assert.equal(one('SELECT now()').opaque, false);
  });
  test('nested writes become statements of their own', () => {
    const s = one('WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x');
    assert.equal(s.kind, 'select');
    assert.equal(s.nested.length, 1);
    assert.equal(s.nested[0].kind, 'delete');
    assert.equal(s.nested[0].noWhere, true);
  });
  test('EXPLAIN ANALYZE runs its target, plain EXPLAIN does not', () => {
    assert.equal(one('EXPLAIN ANALYZE DELETE FROM t').nested[0]?.kind, 'delete');
    assert.equal(one('EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t').nested[0]?.kind, 'delete');
    assert.equal(one('EXPLAIN (ANALYZE true) DELETE FROM t').nested[0]?.kind, 'delete');
    for (const sql of ['EXPLAIN DELETE FROM t', 'EXPLAIN (ANALYZE false) DELETE FROM t', "EXPLAIN (ANALYZE 'off') DELETE FROM t", 'EXPLAIN (ANALYZE 0) DELETE FROM t']) {
      const s = one(sql);
      assert.equal(s.nested.length, 0, sql);
      assert.deepEqual(s.tables.map(formatName), ['t'], sql);
    }
  });
  test('a parse error is one unknown, opaque statement', () => {
    const c = classifyPostgres('SELEC 1');
    assert.ok(c.error);
    assert.equal(c.statements[0].kind, 'unknown');
    assert.equal(c.statements[0].opaque, true);
  });
  test('multi-statement strings list every statement', () => {
    const c = classifyPostgres('SELECT 1; DROP TABLE t; COMMIT');
    assert.deepEqual(c.statements.map((s) => s.kind), ['select', 'drop', 'transaction']);
  });
  test('empty text has no statements', () => {
    assert.equal(classifyPostgres('  -- nothing\n').statements.length, 0);
  });
});

describe('cache', () => {
  test('the same text returns the same classification', () => {
    const a = classifyPostgres('SELECT abalance FROM pgbench_accounts WHERE aid = $1');
    const b = classifyPostgres('SELECT abalance FROM pgbench_accounts WHERE aid = $1');
    assert.equal(a, b);
  });
  test('literals differing per call share one parse', () => {
    const a = classifyPostgres('SELECT abalance FROM cache_probe WHERE aid = 12345');
    const before = classifyStats().parses;
    const b = classifyPostgres('SELECT abalance FROM cache_probe WHERE aid = 777');
    assert.equal(classifyStats().parses, before);
    assert.equal(a.key, b.key);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.notEqual(classifyPostgres('SELECT abalance FROM cache_probe2 WHERE aid = 1').key, a.key);
  });
  test('a statement seen with other literals is classified without the parser', () => {
    const a = classifyPostgres("SELECT abalance FROM shape_probe WHERE aid = 12345 AND note = 'it''s'");
    const before = classifyStats();
    const b = classifyPostgres("SELECT abalance FROM shape_probe WHERE aid = 9 AND note = 'other'");
    assert.equal(b, a);
    assert.equal(classifyStats().shapeHits, before.shapeHits + 1);
    assert.equal(classifyStats().parses, before.parses);
    // another table, another column, a parameter or a comment is another shape
    assert.notEqual(classifyPostgres('SELECT abalance FROM shape_probe2 WHERE aid = 9 AND note = \'x\''), a);
    assert.deepEqual(one('SELECT abalance FROM shape_probe WHERE aid = 9 /* x */ AND note = \'x\'').tables, [{ name: 'shape_probe' }]);
  });
  test('a statement first seen with $1 (extended protocol, a record) still gives its shape to literal texts', () => {
    // The normalized key was cached by the $1 text (no shape); the literal text found it by
    // normalizing and must leave its shape cached, or every later literal normalizes again.
    clearClassifyCache();
    const viaParam = classifyPostgres('SELECT abalance FROM shape_param WHERE aid = $1');
    const first = classifyPostgres('SELECT abalance FROM shape_param WHERE aid = 7');
    assert.equal(first, viaParam);
    assert.equal(classifyStats().normalizedHits, 1);
    const later = classifyPostgres('SELECT abalance FROM shape_param WHERE aid = 8');
    assert.equal(later, viaParam);
    assert.equal(classifyStats().shapeHits, 1);
    assert.equal(classifyStats().normalizedHits, 1);
    // another statement of a like text is not found by that shape
    assert.deepEqual(classifyPostgres('DELETE FROM shape_param WHERE aid = 8').statements[0]!.kind, 'delete');
  });
  test('a shape hit classifies as a fresh parse would', () => {
    const pairs = [
      ["UPDATE acc SET bal = bal + 5 WHERE id = 1 AND pg_sleep(0.1) IS NOT NULL", "UPDATE acc SET bal = bal + 70 WHERE id = 2 AND pg_sleep(3) IS NOT NULL"],
      ["WITH d AS (DELETE FROM logs WHERE ts < '2020-01-01' RETURNING *) INSERT INTO archive SELECT * FROM d", "WITH d AS (DELETE FROM logs WHERE ts < 'x' RETURNING *) INSERT INTO archive SELECT * FROM d"],
      ["SELECT set_config('role', 'admin', false), pg_read_file('/etc/passwd')", "SELECT set_config('a', 'b', false), pg_read_file('x')"],
    ];
    for (const [a, b] of pairs) {
      clearClassifyCache();
      const fresh = classifyPostgres(b);
      clearClassifyCache();
      classifyPostgres(a);
      const viaShape = classifyPostgres(b);
      assert.equal(classifyStats().shapeHits, 1, b);
      assert.deepEqual(viaShape.statements, fresh.statements, b);
    }
  });
  test('literal shapes: only plain literals of one DML statement are replaced', () => {
    assert.equal(literalShape("select * from t1 where a = 'x''y' and b = 1.5e-3 and c=-2;"), "select * from t1 where a = \u0002 and b = \u0001 and c=-\u0001;");
    assert.equal(literalShape('SELECT 1'), literalShape('SELECT 22'));
    assert.notEqual(literalShape('SELECT 1'), literalShape("SELECT '1'"));
    for (const t of [
      'SELECT 0x1F', 'SELECT 1_000', 'SELECT 12e5x', 'SELECT .5', 'SELECT a.1', "SELECT E'a\\'", "SELECT U&'d!0061t' UESCAPE '!'",
      "SELECT B'01'", "SELECT N'x'", 'SELECT * FROM U&"!0073ecrets" UESCAPE \'!\'', 'SELECT "a"', 'SELECT $1', 'SELECT $$x$$',
      'SELECT 1; DELETE FROM t', 'SELECT 1 -- c', 'SELECT /* c */ 1', "SELECT 'open", "EXPLAIN (ANALYZE 0) DELETE FROM t",
      'SET ROLE 1', 'SELECT \u0001', '(SELECT 1)',
    ]) assert.equal(literalShape(t), null, t);
  });
  test('values that change the meaning are not normalized away', () => {
    // if the parser's normalization ever replaced these, cached results would be wrong
    assert.equal(one("EXPLAIN (ANALYZE 'off') DELETE FROM cache_t").nested.length, 0);
    assert.equal(one("EXPLAIN (ANALYZE 'on') DELETE FROM cache_t").nested.length, 1);
    assert.equal(one('EXPLAIN (ANALYZE 0) DELETE FROM cache_t').nested.length, 0);
    assert.equal(one('EXPLAIN (ANALYZE 1) DELETE FROM cache_t').nested.length, 1);
    assert.deepEqual(one(`SELECT * FROM U&"!0073ecrets" UESCAPE '!'`).tables, [{ name: 'secrets' }]);
    assert.deepEqual(one(`SELECT * FROM U&"!0073ecrets" UESCAPE '#'`).tables, [{ name: '!0073ecrets' }]);
  });
  test('nested statements are flattened for judging', () => {
    const c = classifyPostgres('WITH a AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM a; EXPLAIN ANALYZE DELETE FROM u');
    assert.deepEqual(flattenStatements(c.statements).map((s) => s.kind), ['select', 'update', 'explain', 'delete']);
  });
});
