// A corpus of attempts to slip a forbidden or risky MySQL statement past the rules. Each
// is judged on Warden's reading of it (the server's lexer rules, node-sql-parser's grammar)
// in the session's mode, and must get what its real effect on a MySQL / MariaDB server
// deserves. The policy is the one Postgres uses, unchanged.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Identity } from '../../src/identity/types.ts';
import { compilePolicy } from '../../src/policy/policy.ts';
import { rulesSchema } from '../../src/policy/rule-schema.ts';
import { annotateFunctions } from '../../src/policy/target-functions.ts';
import { classifyMysql, type MysqlSyntax } from '../../src/sql/mysql.ts';
import { mysqlFunctionFacts } from '../../src/sql/mysql-functions.ts';
import { PreparedStatements } from '../../src/sql/prepared.ts';

const policy = compilePolicy(
  rulesSchema.parse([
    { name: 'no-drop', match: { kinds: ['drop', 'truncate'] }, action: 'block' },
    { name: 'no-file-read', match: { functions: ['load_file'] }, action: 'block' },
    { name: 'no-server-files', match: { kinds: ['copy'], categories: ['admin'] }, action: 'block' },
    { name: 'no-role-switch', match: { kinds: ['set_role'] }, action: 'block' },
    { name: 'all-rows', match: { kinds: ['delete', 'update'], noWhere: true }, action: 'review', review: { groups: ['dba'] } },
    { name: 'secrets', match: { tables: ['secrets'] }, action: 'review', review: { groups: ['security'] } },
    { name: 'app-vault', match: { tables: ['app.vault'] }, action: 'block' },
  ]),
);
const who: Identity = { kind: 'user', subject: 'u-9', name: 'mallory', groups: ['engineers'] };
const connection = { name: 'shop', onUnknown: 'review' as const };
const syntax = (sqlMode = '', charset = 'utf8mb4'): MysqlSyntax => ({ dialect: 'mariadb', sqlMode, charset });
const DEFAULT = syntax();

function judge(text: string, opts: { syntax?: MysqlSyntax; prepared?: PreparedStatements; searchPath?: string[] | null } = {}) {
  const classification = annotateFunctions((opts.prepared ?? new PreparedStatements()).resolve(classifyMysql(text, opts.syntax ?? DEFAULT)), mysqlFunctionFacts);
  return policy.decide({ identity: who, connection, command: { text }, classification, ...(opts.searchPath !== undefined ? { searchPath: opts.searchPath } : {}) });
}

type Case = [sql: string, action: 'allow' | 'block' | 'review', why: string];

const corpus: Record<string, Case[]> = {
  'control: harmless statements stay allowed': [
    ['SELECT * FROM orders WHERE id = 1', 'allow', 'plain read'],
    ["SELECT 'DROP TABLE t; load_file(1)' AS text", 'allow', 'dangerous words inside a string literal'],
    ['SELECT 1 -- DROP TABLE t', 'allow', 'dangerous words in a -- comment'],
    ['SELECT 1 # DROP TABLE t', 'allow', 'dangerous words in a # comment'],
    ['DELETE FROM t WHERE id = 1', 'allow', 'delete with WHERE'],
    ['EXPLAIN DELETE FROM t', 'allow', 'plain EXPLAIN does not run the DELETE'],
    ['SELECT a INTO @x FROM orders WHERE id = 1', 'allow', 'INTO a user variable is a read'],
    ['SELECT /*!40001 SQL_NO_CACHE */ * FROM orders', 'allow', 'a versioned hint as mysqldump writes it'],
    ['SELECT SLEEP(0), COUNT(*), CONCAT(a, b) FROM orders', 'allow', 'built-in functions'],
    ["SELECT `a``; DROP TABLE t; --` FROM orders", 'allow', 'a doubled backtick keeps the DROP inside the name'],
    ['SELECT * FROM `se``crets`', 'allow', 'another table than secrets'],
  ],
  'versioned comments run on the server': [
    ['/*!50000 DROP TABLE t */', 'block', 'versioned DROP'],
    ['/*!DROP TABLE t*/', 'block', 'versioned DROP without a version'],
    ['/*!99999 DROP TABLE t */', 'block', 'a version above the server\'s is still judged'],
    ['/*M!100100 DROP TABLE t */', 'block', 'MariaDB-only versioned comment'],
    ['SELECT 1 /*!, (SELECT pw FROM secrets) */', 'review', 'a column hidden in a versioned comment'],
    ['SELECT 1 /*! ; DROP TABLE t */', 'block', 'a second statement inside a versioned comment'],
    ['/*! DROP */ TABLE t', 'block', 'a keyword in a versioned comment, the rest outside'],
    ['SELECT * FROM orders /*!50000 UNION SELECT pw FROM secrets */', 'review', 'a UNION in a versioned comment'],
  ],
  'comments and whitespace': [
    ['/**/DROP TABLE t', 'block', 'leading block comment'],
    ['DROP/**/TABLE/**/t', 'block', 'comments as separators'],
    ['SELECT 1; #\nDROP TABLE t', 'block', '# comment then newline'],
    ['SELECT 1 -- \n; DROP TABLE t', 'block', '-- comment then newline'],
    ['SELECT 1 --1, (SELECT pw FROM secrets)', 'review', '--1 is minus minus one, not a comment'],
    ['SELECT 1 /* ; */ ; DROP TABLE t', 'block', 'a semicolon in a comment'],
    ['\tdrop\n\ttable\r\nt', 'block', 'tabs and CRLF'],
  ],
  case: [
    ['dRoP tAbLe t', 'block', 'mixed-case keywords'],
    ["SELECT LOAD_FILE('/etc/passwd')", 'block', 'upper-case function name'],
    ['SELECT * FROM SECRETS', 'review', 'upper-case table name'],
    ['SELECT * FROM `SeCrEtS`', 'review', 'a quoted name in another case: rules match MySQL names case-insensitively'],
  ],
  'quoting and escapes': [
    ['SELECT * FROM `secrets`', 'review', 'backquoted'],
    ['SELECT * FROM app.`secrets`', 'review', 'qualified, backquoted'],
    ['SELECT * FROM `app`.`secrets`', 'review', 'both parts backquoted'],
    ["SELECT 'a\\'; DROP TABLE t; -- '", 'allow', 'a backslash-escaped quote keeps the DROP inside the string'],
    ['SELECT "a\\"; DROP TABLE t; -- "', 'allow', 'the same in a double-quoted string'],
    ["SELECT 'a'';DROP TABLE t;--'", 'allow', 'a doubled quote keeps the DROP inside the string'],
    ["SELECT _utf8mb4'x'; DROP TABLE t", 'block', 'a character set introducer'],
    ["SELECT X'41'; DROP TABLE t", 'block', 'a hex literal'],
    ["SELECT 'a' 'b'; DROP TABLE t", 'block', 'adjacent literals are one string'],
    ["SELECT `load_file`('/etc/passwd')", 'block', 'a backquoted function name'],
  ],
  'sql_mode changes how quotes read': [
    ['SET sql_mode = \'ANSI_QUOTES\'; SELECT "a\\"; DROP TABLE t; -- "', 'block', 'ANSI_QUOTES set in the same text: "…" is a name, no escapes'],
    ["SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; DROP TABLE t; -- '", 'block', 'NO_BACKSLASH_ESCAPES set in the same text'],
    ['SET @@SESSION.sql_mode = CONCAT(@@sql_mode, \',ANSI_QUOTES\'); SELECT "a\\"; DROP TABLE t; -- "', 'review', 'a mode not written as a literal: the rest cannot be read'],
    ["SET sql_mode = 'ORACLE'; SELECT 1", 'review', 'a grammar Warden does not read'],
    ['SET NAMES gbk; SELECT 1', 'review', 'a character set in which a multi-byte character can end in a quote or backslash'],
    ["SET GLOBAL sql_mode = 'ANSI_QUOTES'; SELECT \"a\\\"; DROP TABLE t; -- \"", 'allow', 'GLOBAL does not change this session: the string stays a string'],
  ],
  'multi-statements': [
    ['SELECT 1; DROP TABLE t', 'block', 'DROP second'],
    ['SELECT 1;DROP TABLE t;', 'block', 'no spaces'],
    ['DELETE FROM t; SELECT 1', 'review', 'DELETE first'],
    ['SELECT * FROM secrets; TRUNCATE t', 'block', 'strictest wins'],
    ['SELECT 1; DROP TABLE t; SELECT \'unterminated', 'block', 'what the server runs before a broken statement is still judged'],
  ],
  'MySQL statements': [
    ["LOAD DATA INFILE '/etc/passwd' INTO TABLE t", 'block', 'LOAD DATA reads a server file'],
    ["SELECT * FROM orders INTO OUTFILE '/tmp/x'", 'block', 'INTO OUTFILE writes a server file'],
    ["SELECT a FROM orders INTO DUMPFILE '/tmp/x'", 'block', 'INTO DUMPFILE writes a server file'],
    ["LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE t", 'review', 'LOCAL INFILE only by a rule that names it'],
    ['HANDLER secrets OPEN', 'review', 'HANDLER opens a table for reading'],
    ['HANDLER secrets READ FIRST', 'review', 'HANDLER reads rows'],
    ['SET @x = (SELECT pw FROM secrets LIMIT 1)', 'review', 'a subquery in SET'],
    ['DO (SELECT pw FROM secrets LIMIT 1)', 'review', 'a subquery in DO'],
    ['SELECT * FROM orders WHERE id IN (SELECT id FROM secrets)', 'review', 'secrets in a subquery'],
    ['SELECT 1 UNION SELECT pw FROM secrets', 'review', 'secrets in a UNION'],
    ['INSERT INTO t SELECT * FROM secrets', 'review', 'secrets as INSERT source'],
    ['CREATE TABLE x AS SELECT * FROM secrets', 'review', 'secrets read by CREATE TABLE ... SELECT'],
    ['CREATE VIEW v AS SELECT * FROM secrets', 'review', 'secrets behind a view'],
    ['UPDATE orders SET a = (SELECT pw FROM secrets LIMIT 1) WHERE id = 1', 'review', 'secrets in an UPDATE value'],
    ['DELETE FROM t', 'review', 'DELETE without WHERE'],
    ['UPDATE t SET a = 1', 'review', 'UPDATE without WHERE'],
    ['TRUNCATE TABLE t', 'block', 'TRUNCATE'],
    ['DROP TABLE IF EXISTS t', 'block', 'DROP IF EXISTS'],
    ['RENAME TABLE secrets TO public_data', 'review', 'RENAME names secrets'],
    ['EXPLAIN SELECT * FROM secrets', 'review', 'EXPLAIN names secrets'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'review', 'EXPLAIN ANALYZE runs the DELETE'],
    ['ANALYZE DELETE FROM t', 'review', "MariaDB's ANALYZE runs the DELETE"],
    ['SET STATEMENT max_statement_time = 1 FOR DROP TABLE t', 'block', 'SET STATEMENT ... FOR runs its statement'],
    ["XA START 'x'; DROP TABLE t", 'block', 'DROP after XA START'],
    ['SET ROLE admin', 'block', 'SET ROLE'],
    ['SELECT NEXTVAL(secrets)', 'review', 'a sequence function reads its sequence like a table'],
  ],
  'procedures, functions and code the server runs later': [
    ['CALL p()', 'review', 'a stored procedure'],
    ['CALL app.p(1)', 'review', 'a qualified stored procedure'],
    ['SELECT my_func(a) FROM orders', 'review', 'a stored function'],
    ['SELECT app.f(1)', 'review', 'a qualified function is always stored'],
    ['BEGIN NOT ATOMIC DROP TABLE t; END', 'review', 'an anonymous compound statement'],
    ['CREATE TRIGGER tr BEFORE INSERT ON orders FOR EACH ROW DELETE FROM t', 'review', 'a trigger body runs later'],
    ['CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DROP TABLE t', 'review', 'an event body runs later'],
  ],
  'prepared statements in SQL': [
    ["PREPARE s FROM 'DROP TABLE t'", 'block', 'a PREPARE body is judged'],
    ['PREPARE s FROM @sql', 'review', 'a body from a variable cannot be read'],
    ["EXECUTE IMMEDIATE 'DROP TABLE t'", 'block', 'EXECUTE IMMEDIATE of a literal'],
    ['EXECUTE IMMEDIATE @sql', 'review', 'EXECUTE IMMEDIATE of a variable'],
    ['EXECUTE never_prepared', 'review', 'EXECUTE of an unknown name'],
    ["PREPARE s FROM 'DELETE FROM t'; EXECUTE s", 'review', 'PREPARE then EXECUTE in one text'],
  ],
  'what cannot be read goes to onUnknown': [
    ['garbage ((( ;', 'review', 'garbage'],
    ["SELECT 'unterminated", 'review', 'an unterminated string'],
    ['/*! DROP TABLE t', 'review', 'an unterminated versioned comment'],
    ['SELECT 1; garbage', 'review', 'valid then garbage'],
  ],
};

for (const [group, cases] of Object.entries(corpus)) {
  describe(group, () => {
    for (const [sql, expected, why] of cases) {
      test(`${why}: ${sql.replace(/\s+/g, ' ')}`, () => {
        const d = judge(sql);
        assert.equal(d.action, expected, `${sql} -> ${d.action} (${d.reason})`);
      });
    }
  });
}

describe('the session mode the server reported', () => {
  test('under ANSI_QUOTES a double-quoted name is a name', () => {
    assert.equal(judge('SELECT * FROM "secrets"').action, 'allow', 'a string in the default mode');
    assert.equal(judge('SELECT * FROM "secrets"', { syntax: syntax('STRICT_TRANS_TABLES,ANSI_QUOTES') }).action, 'review');
    assert.equal(judge('SELECT "a\\"; DROP TABLE t; -- "', { syntax: syntax('ANSI') }).action, 'block', 'ANSI implies ANSI_QUOTES');
  });
  test('under NO_BACKSLASH_ESCAPES a backslash escapes nothing', () => {
    assert.equal(judge("SELECT 'a\\'; DROP TABLE t; -- '", { syntax: syntax('NO_BACKSLASH_ESCAPES') }).action, 'block');
  });
  test('a grammar or character set Warden cannot read makes every command opaque', () => {
    assert.equal(judge('SELECT 1', { syntax: syntax('ORACLE') }).action, 'review');
    assert.equal(judge('SELECT 1', { syntax: syntax('', 'sjis') }).action, 'review');
  });
});

describe('the default database resolves unqualified names', () => {
  test('a rule naming app.vault applies where app is the default database', () => {
    assert.equal(judge('SELECT * FROM vault', { searchPath: ['app'] }).action, 'block');
    assert.equal(judge('SELECT * FROM vault', { searchPath: ['other'] }).action, 'allow');
    assert.equal(judge('SELECT * FROM app.vault', { searchPath: ['other'] }).action, 'block');
  });
  test('after USE in the same text, an unqualified name may be in any database', () => {
    assert.equal(judge('USE app; SELECT * FROM vault', { searchPath: ['other'] }).action, 'block');
  });
});

describe('prepared statements across commands', () => {
  test('EXECUTE in a later command is judged as its body', () => {
    const session = new PreparedStatements();
    judge("PREPARE del FROM 'DELETE FROM t'", { prepared: session });
    assert.equal(judge('EXECUTE del', { prepared: session }).action, 'review');
    assert.equal(judge('EXECUTE DEL USING @a', { prepared: session }).action, 'review', 'names are case-insensitive');
  });
  test('re-PREPARE under the same name cannot launder a body', () => {
    const session = new PreparedStatements();
    judge("PREPARE x FROM 'DROP TABLE t'", { prepared: session });
    judge('DEALLOCATE PREPARE x', { prepared: session });
    judge("PREPARE x FROM 'SELECT 1'", { prepared: session });
    assert.equal(judge('EXECUTE x', { prepared: session }).action, 'block');
  });
  test('a body from a variable stays opaque at EXECUTE', () => {
    const session = new PreparedStatements();
    judge('PREPARE v FROM @q', { prepared: session });
    assert.equal(judge('EXECUTE v', { prepared: session }).action, 'review');
  });
});

describe('the cache cannot be poisoned', () => {
  test('texts that differ only in a literal are not confused where the literal matters', () => {
    assert.equal(judge("PREPARE s FROM 'SELECT 1'").action, 'allow');
    assert.equal(judge("PREPARE s FROM 'DROP TABLE t'").action, 'block');
    assert.equal(judge("SET sql_mode = ''; SELECT 'a\\'; DROP TABLE t; -- '").action, 'allow');
    assert.equal(judge("SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; DROP TABLE t; -- '").action, 'block');
  });
  test('the same text in two session modes', () => {
    const text = 'SELECT * FROM orders WHERE a = "x\\"; DROP TABLE t; -- "';
    assert.equal(judge(text).action, 'allow');
    assert.equal(judge(text, { syntax: syntax('ANSI_QUOTES') }).action, 'block');
    assert.equal(judge(text).action, 'allow');
  });
});
