// A corpus of attempts to slip a forbidden or risky statement past the rules. Each is
// judged on the real parser's reading of it, and must get what its real effect deserves.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Identity } from '../../src/identity/types.ts';
import { compilePolicy } from '../../src/policy/policy.ts';
import { rulesSchema } from '../../src/policy/rule-schema.ts';
import { classifyPostgres, initPostgresParser } from '../../src/sql/postgres.ts';
import { PreparedStatements } from '../../src/sql/prepared.ts';

before(async () => {
  await initPostgresParser();
});

const policy = compilePolicy(
  rulesSchema.parse([
    { name: 'no-drop', match: { kinds: ['drop', 'truncate'] }, action: 'block' },
    { name: 'no-file-read', match: { functions: ['pg_read_file', 'pg_read_binary_file', 'pg_terminate_backend'] }, action: 'block' },
    { name: 'no-program', match: { copyProgram: true }, action: 'block' },
    { name: 'no-role-switch', match: { kinds: ['set_role'] }, action: 'block' },
    { name: 'all-rows', match: { kinds: ['delete', 'update'], noWhere: true }, action: 'review', review: { groups: ['dba'] } },
    { name: 'secrets', match: { tables: ['secrets'] }, action: 'review', review: { groups: ['security'] } },
  ]),
);
const who: Identity = { kind: 'user', subject: 'u-9', name: 'mallory', groups: ['engineers'] };
const connection = { name: 'app-db', onUnknown: 'review' as const };

function judge(text: string, prepared = new PreparedStatements()) {
  const classification = prepared.resolve(classifyPostgres(text));
  return policy.decide({ identity: who, connection, command: { text }, classification });
}

type Case = [sql: string, action: 'allow' | 'block' | 'review', why: string];

const corpus: Record<string, Case[]> = {
  'control: harmless statements stay allowed': [
    ['SELECT * FROM orders WHERE id = 1', 'allow', 'plain read'],
    ["SELECT 'DROP TABLE t; pg_read_file(1)' AS text", 'allow', 'dangerous words inside a string literal'],
    ['SELECT 1 -- DROP TABLE t', 'allow', 'dangerous words in a comment'],
    ['SELECT * FROM "SeCrEtS"', 'allow', 'a quoted identifier is a different table than secrets'],
    ['DELETE FROM t WHERE id = 1', 'allow', 'delete with WHERE'],
    ['EXPLAIN DELETE FROM t', 'allow', 'plain EXPLAIN does not run the DELETE'],
    ['COPY t TO STDOUT', 'allow', 'COPY to the client'],
  ],
  'comments and whitespace': [
    ['/**/DROP TABLE t', 'block', 'leading block comment'],
    ['DROP/**/TABLE/**/t', 'block', 'comments as separators'],
    ['SELECT 1; --\nDROP TABLE t', 'block', 'line comment then newline'],
    ['SELECT 1 /* ; */ ; /* nested /* */ */ DROP TABLE t', 'block', 'nested block comments'],
    ['\tdrop\n\ttable\r\nt', 'block', 'tabs and CRLF'],
  ],
  case: [
    ['dRoP tAbLe t', 'block', 'mixed-case keywords'],
    ['SELECT PG_READ_FILE(\'/etc/passwd\')', 'block', 'upper-case function name folds to pg_read_file'],
    ['SELECT * FROM SECRETS', 'review', 'unquoted upper case is secrets'],
    ['SELECT * FROM "secrets"', 'review', 'quoted lower case is secrets'],
  ],
  'quoting and escapes': [
    ['SELECT * FROM U&"\\0073ecrets"', 'review', 'unicode escape spells secrets'],
    [`SELECT * FROM U&"!0073ecrets" UESCAPE '!'`, 'review', 'unicode escape with a custom escape character'],
    ['SELECT * FROM public."secrets"', 'review', 'schema-qualified quoted'],
    ['SELECT "pg_read_file"(\'x\')', 'block', 'quoted function name'],
    ['SELECT pg_catalog.pg_read_file(\'x\')', 'block', 'schema-qualified function'],
    ["SELECT $$'$$; DROP TABLE t; SELECT $$'$$", 'block', 'dollar quotes around a quote character'],
    ["SELECT $a$ $$ $a$; DROP TABLE t", 'block', 'tagged dollar quote containing $$'],
    ["SELECT E'\\''; DROP TABLE t; --'", 'block', 'escaped quote in an E string'],
    ["SELECT 'a'';DROP TABLE t;--'", 'allow', 'doubled quote keeps the DROP inside the string'],
  ],
  nesting: [
    ['WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', 'review', 'DELETE without WHERE in a CTE'],
    ['WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM x', 'review', 'UPDATE without WHERE in a CTE'],
    ['WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM t RETURNING 1) SELECT * FROM c) SELECT * FROM b', 'review', 'CTE in a CTE'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'review', 'EXPLAIN ANALYZE runs the DELETE'],
    ['EXPLAIN (ANALYZE on, FORMAT json) UPDATE t SET a = 1', 'review', 'EXPLAIN with analyze option list'],
    ['COPY (DELETE FROM t RETURNING *) TO STDOUT', 'review', 'DELETE inside COPY'],
    ['SELECT * FROM orders WHERE id IN (SELECT id FROM secrets)', 'review', 'secrets in a subquery'],
    ['SELECT * FROM (SELECT * FROM (SELECT * FROM secrets) a) b', 'review', 'secrets deep in FROM'],
    ['INSERT INTO log SELECT * FROM secrets', 'review', 'secrets as INSERT source'],
    ['CREATE TABLE copy_of AS SELECT * FROM secrets', 'review', 'secrets read by CREATE TABLE AS'],
    ['DECLARE c CURSOR FOR SELECT * FROM secrets', 'review', 'secrets behind a cursor'],
    ['CREATE RULE r AS ON INSERT TO log DO ALSO DELETE FROM t', 'review', 'DELETE in a rule action'],
  ],
  'functions anywhere': [
    ["SELECT * FROM pg_read_file('/etc/passwd')", 'block', 'function in FROM'],
    ["SELECT (SELECT pg_read_file('/etc/passwd'))", 'block', 'function in a scalar subquery'],
    ["SELECT 1 WHERE EXISTS (SELECT pg_read_file('x'))", 'block', 'function in WHERE'],
    ["WITH x AS (SELECT pg_terminate_backend(pid) FROM pg_stat_activity) SELECT 1", 'block', 'function in a CTE'],
    ["CREATE TABLE t (a text DEFAULT pg_read_file('/etc/passwd'))", 'block', 'function in a default expression'],
    ["INSERT INTO t VALUES (1) RETURNING pg_read_file('x')", 'block', 'function in RETURNING'],
    ["SELECT coalesce(NULL, pg_read_file('x'))", 'block', 'function as an argument'],
    ["SELECT pg_read_file('x') FROM orders, secrets", 'block', 'block beats review in one statement'],
    ["EXPLAIN SELECT pg_read_file('x')", 'block', 'function under plain EXPLAIN'],
    ["PREPARE rf AS SELECT pg_read_file($1)", 'block', 'function in a PREPARE body'],
    ["SELECT query_to_xml('select * from secrets', true, true, '')", 'review', 'dynamic SQL function: onUnknown'],
    ["SELECT * FROM dblink('host=x', 'drop table t') AS r(a int)", 'review', 'dblink: onUnknown'],
  ],
  'multi-statements': [
    ['SELECT 1; DROP TABLE t', 'block', 'DROP second'],
    ['SELECT 1;DROP TABLE t;', 'block', 'no spaces'],
    ['DELETE FROM t; SELECT 1', 'review', 'DELETE first'],
    ['SELECT * FROM secrets; TRUNCATE t', 'block', 'strictest wins'],
  ],
  'transaction tricks': [
    ['BEGIN; DROP TABLE t; COMMIT', 'block', 'DROP inside a transaction'],
    ['BEGIN; DROP TABLE t; ROLLBACK', 'block', 'judged before anything runs, whatever the ending'],
    ['START TRANSACTION; SAVEPOINT s; DELETE FROM t; RELEASE s; COMMIT', 'review', 'DELETE under a savepoint'],
  ],
  'roles and programs': [
    ['SET ROLE postgres', 'block', 'SET ROLE'],
    ['set local role postgres', 'block', 'SET LOCAL ROLE'],
    ["SET SESSION AUTHORIZATION 'postgres'", 'block', 'SET SESSION AUTHORIZATION'],
    ['RESET ROLE', 'block', 'RESET ROLE'],
    ["COPY t TO PROGRAM 'curl evil'", 'block', 'COPY TO PROGRAM'],
    ["COPY t FROM PROGRAM 'id'", 'block', 'COPY FROM PROGRAM'],
    ["copy (select 1) to program 'sh -c id'", 'block', 'COPY query TO PROGRAM'],
  ],
  'what cannot be seen through goes to onUnknown': [
    ['DO $$ BEGIN EXECUTE \'DROP TABLE t\'; END $$', 'review', 'DO block'],
    ["DO LANGUAGE plpgsql 'BEGIN NULL; END'", 'review', 'DO with a quoted body'],
    ['EXECUTE never_prepared', 'review', 'EXECUTE of an unknown name'],
    ['DROP TABLE', 'review', 'syntax error'],
    ['garbage ((( ;', 'review', 'garbage'],
    ['SELECT 1; garbage', 'review', 'valid then garbage: the whole string fails to parse'],
    ['DROP TABLE t; garbage', 'review', 'a parse error hides nothing: Postgres runs none of it either'],
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

describe('prepared statements across commands', () => {
  test('PREPARE then EXECUTE in one string', () => {
    assert.equal(judge('PREPARE p AS DELETE FROM t; EXECUTE p').action, 'review');
  });
  test('EXECUTE in a later command is judged as its body', () => {
    const session = new PreparedStatements();
    judge('PREPARE d AS DROP TABLE t', session); // not preparable in Postgres; still judged
    judge('PREPARE del AS DELETE FROM t', session);
    assert.equal(judge('EXECUTE del', session).action, 'review');
    assert.equal(judge('EXPLAIN ANALYZE EXECUTE del', session).action, 'review');
  });
  test('re-PREPARE under the same name cannot launder a body', () => {
    const session = new PreparedStatements();
    judge('PREPARE x AS DELETE FROM t', session);
    judge('DEALLOCATE x', session);
    judge('PREPARE x AS SELECT 1', session);
    assert.equal(judge('EXECUTE x', session).action, 'review');
  });
  test('EXECUTE arguments are judged too', () => {
    const session = new PreparedStatements();
    judge('PREPARE s(text) AS SELECT $1', session);
    assert.equal(judge("EXECUTE s(pg_read_file('/etc/passwd'))", session).action, 'block');
  });
});

describe('the cache cannot be poisoned', () => {
  test('a harmless statement first does not let a dangerous one with the same shape through', () => {
    assert.equal(judge(`SELECT * FROM U&"!0073ecrets" UESCAPE '#'`).action, 'allow');
    assert.equal(judge(`SELECT * FROM U&"!0073ecrets" UESCAPE '!'`).action, 'review');
    assert.equal(judge("EXPLAIN (ANALYZE 'off') DELETE FROM t").action, 'allow');
    assert.equal(judge("EXPLAIN (ANALYZE 'on') DELETE FROM t").action, 'review');
    assert.equal(judge('SELECT * FROM "SeCrEtS" WHERE a = 1').action, 'allow');
    assert.equal(judge('SELECT * FROM "secrets" WHERE a = 1').action, 'review');
  });
});
