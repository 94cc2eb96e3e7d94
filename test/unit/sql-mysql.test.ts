// MySQL classification: kinds and categories, names as the server resolves them, what a
// statement changes in its session, and the lexer's reading of quotes and comments.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyMysql } from '../../src/sql/mysql.ts';
import { MysqlLexer, normalize, DEFAULT_LEX_MODE, lexModeOf } from '../../src/sql/mysql-lexer.ts';
import { formatName } from '../../src/sql/types.ts';

const one = (sql: string) => {
  const c = classifyMysql(sql);
  assert.equal(c.statements.length, 1, `${sql}: ${c.statements.length} statements`);
  return c.statements[0]!;
};

test('kinds and categories', () => {
  const cases: [string, string, string][] = [
    ['SELECT 1', 'select', 'read'],
    ['INSERT INTO t VALUES (1)', 'insert', 'write'],
    ['REPLACE INTO t VALUES (1)', 'insert', 'write'],
    ['UPDATE t SET a = 1 WHERE b = 2', 'update', 'write'],
    ['DELETE FROM t WHERE a = 1', 'delete', 'write'],
    ['CREATE TABLE t (a int)', 'create', 'ddl'],
    ['ALTER TABLE t ADD b int', 'alter', 'ddl'],
    ['DROP TABLE t', 'drop', 'ddl'],
    ['TRUNCATE t', 'truncate', 'write'],
    ['CREATE USER u', 'create', 'admin'],
    ['DROP USER u', 'drop', 'admin'],
    ['GRANT SELECT ON db.t TO u', 'grant', 'admin'],
    ['REVOKE SELECT ON db.t FROM u', 'revoke', 'admin'],
    ['SET autocommit = 0', 'set', 'session'],
    ['SET GLOBAL max_connections = 10', 'set', 'admin'],
    ['SET NAMES utf8mb4', 'set', 'session'],
    ['USE shop', 'set', 'session'],
    ['SHOW TABLES', 'show', 'read'],
    ['DESCRIBE t', 'show', 'read'],
    ['BEGIN', 'transaction', 'transaction'],
    ['START TRANSACTION READ ONLY', 'transaction', 'transaction'],
    ['COMMIT', 'transaction', 'transaction'],
    ['LOCK TABLES t READ', 'lock', 'write'],
    ['KILL QUERY 12', 'other', 'admin'],
    ['FLUSH PRIVILEGES', 'other', 'admin'],
    ['CALL p()', 'call', 'write'],
    ["LOAD DATA INFILE 'f' INTO TABLE t", 'copy', 'admin'],
    ['OPTIMIZE TABLE t', 'other', 'admin'],
    ['ANALYZE TABLE t', 'analyze', 'admin'],
  ];
  for (const [sql, kind, category] of cases) {
    const s = one(sql);
    assert.deepEqual([s.kind, s.category], [kind, category], sql);
  }
});

test('tables and functions, folded to lower case, with the database as schema', () => {
  const s = one('SELECT Shop.F(a), g(b) FROM `Shop`.`Orders` o JOIN items USING (id) WHERE x IN (SELECT y FROM other.T2)');
  assert.deepEqual(s.tables.map(formatName).sort(), ['items', 'other.t2', 'shop.orders']);
  assert.deepEqual(s.functions.map(formatName).sort(), ['g', 'shop.f']);
  assert.deepEqual(one('DROP TABLE IF EXISTS a, b.c').tables.map(formatName), ['a', 'b.c']);
  assert.deepEqual(one('LOCK TABLES a READ, b AS x WRITE').tables.map(formatName), ['a', 'b']);
  assert.deepEqual(one('SHOW COLUMNS FROM t FROM shop').tables.map(formatName), ['shop.t']);
  assert.equal(one('DELETE FROM t').noWhere, true);
  assert.equal(one('UPDATE t SET a = 1 WHERE b = 2').noWhere, false);
});

test('what a statement changes in its session', () => {
  assert.deepEqual(one('USE shop').effect, { searchPath: true });
  assert.deepEqual(one("SET sql_mode = 'ANSI_QUOTES'").effect, { syntax: true });
  assert.deepEqual(one('SET NAMES latin1').effect, { syntax: true });
  assert.equal(one('SET autocommit = 1').effect, undefined);
  assert.deepEqual(one("PREPARE s FROM 'SELECT 1'").effect, { prepare: 's' });
  assert.deepEqual(one('DEALLOCATE PREPARE s').effect, { deallocate: 's' });
  assert.deepEqual(one('DROP PREPARE s').effect, { deallocate: 's' });
  assert.deepEqual(one('COMMIT').effect, { transactionEnd: true });
});

test('the lexer reads quotes by the session mode and expands versioned comments', () => {
  const lex = (text: string, sqlMode = '') => {
    const l = new MysqlLexer(text);
    const m = lexModeOf(sqlMode);
    const out: string[] = [];
    for (;;) {
      if (l.done) break;
      const s = l.next(m);
      if (!s) break;
      out.push(normalize(s.tokens));
    }
    return out;
  };
  assert.deepEqual(lex("SELECT 'a;b', \"c;d\" FROM t"), ["SELECT '_' , '_' FROM t"]);
  assert.deepEqual(lex('SELECT "a" FROM t', 'ANSI_QUOTES'), ['SELECT `a` FROM t']);
  assert.deepEqual(lex("SELECT 'a\\'b'; SELECT 2"), ["SELECT '_'", 'SELECT 0']);
  assert.deepEqual(lex("SELECT 'a\\'; SELECT 2", 'NO_BACKSLASH_ESCAPES'), ["SELECT '_'", 'SELECT 0']);
  assert.deepEqual(lex('/*!40101 SET x = 1 */; SELECT /* no */ 1'), ['SET x = 0', 'SELECT 0']);
  assert.deepEqual(lex('SELECT 1--1'), ['SELECT 0 - - 0']);
  assert.deepEqual(lex('SELECT * FROM 1t, db.`x``y`'), ['SELECT * FROM `1t` , db.`x``y`']);
  assert.deepEqual(lex('SELECT 1 -- c\n; SELECT 2 # d'), ['SELECT 0', 'SELECT 0']);
  assert.throws(() => new MysqlLexer("SELECT 'x").next(DEFAULT_LEX_MODE), /not closed/);
});

test('literals never change the cache key, except where they say what runs', () => {
  assert.equal(classifyMysql("SELECT * FROM t WHERE a = 1 AND b = 'x'").key, classifyMysql("SELECT * FROM t WHERE a = 22 AND b = 'y'").key);
  assert.notEqual(classifyMysql("PREPARE s FROM 'SELECT 1'").key, classifyMysql("PREPARE s FROM 'SELECT 2 FROM t'").key);
});
