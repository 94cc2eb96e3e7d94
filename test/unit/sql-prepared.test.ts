import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { classifyPostgres, initPostgresParser } from '../../src/sql/postgres.ts';
import { PreparedStatements } from '../../src/sql/prepared.ts';
import { flattenStatements } from '../../src/sql/types.ts';

before(async () => {
  await initPostgresParser();
});

const kinds = (p: PreparedStatements, sql: string) => flattenStatements(p.resolve(classifyPostgres(sql)).statements).map((s) => `${s.kind}${s.opaque ? '?' : ''}`);

test('EXECUTE is judged as the body PREPAREd earlier in the session', () => {
  const p = new PreparedStatements();
  kinds(p, 'PREPARE del AS DELETE FROM t');
  assert.deepEqual(kinds(p, 'EXECUTE del'), ['execute', 'delete']);
});

test('PREPARE and EXECUTE in one string', () => {
  assert.deepEqual(kinds(new PreparedStatements(), 'PREPARE q AS DELETE FROM t; EXECUTE q'), ['prepare', 'delete', 'execute', 'delete']);
});

test('an EXECUTE before its PREPARE, or of an unknown name, stays opaque', () => {
  const p = new PreparedStatements();
  assert.deepEqual(kinds(p, 'EXECUTE q; PREPARE q AS SELECT 1'), ['execute?', 'prepare', 'select']);
  assert.deepEqual(kinds(p, 'EXECUTE nobody'), ['execute?']);
});

test('sessions do not share prepared statements', () => {
  const a = new PreparedStatements();
  kinds(a, 'PREPARE s AS SELECT 1');
  assert.deepEqual(kinds(new PreparedStatements(), 'EXECUTE s'), ['execute?']);
});

test('re-PREPARE and DEALLOCATE never hide an earlier body', () => {
  const p = new PreparedStatements();
  kinds(p, 'PREPARE x AS DELETE FROM t');
  kinds(p, 'DEALLOCATE x');
  kinds(p, 'PREPARE x AS SELECT 1'); // may fail on the server: x may still be the DELETE
  assert.deepEqual(kinds(p, 'EXECUTE x'), ['execute', 'delete', 'select']);
});

test('EXECUTE nested in EXPLAIN ANALYZE and CREATE TABLE AS', () => {
  const p = new PreparedStatements();
  kinds(p, 'PREPARE d AS DELETE FROM t RETURNING *');
  assert.deepEqual(kinds(p, 'EXPLAIN ANALYZE EXECUTE d'), ['explain', 'execute', 'delete']);
  assert.deepEqual(kinds(p, 'CREATE TABLE c AS EXECUTE d'), ['create', 'execute', 'delete']);
});

test('register() covers protocol-level named statements; too many bodies become opaque', () => {
  const p = new PreparedStatements({ maxBodiesPerName: 2 });
  p.register('s1', classifyPostgres('UPDATE t SET a = 1').statements);
  assert.deepEqual(kinds(p, 'EXECUTE s1'), ['execute', 'update']);
  p.register('s1', classifyPostgres('SELECT 1').statements);
  p.register('s1', classifyPostgres('SELECT 2').statements);
  assert.deepEqual(kinds(p, 'EXECUTE s1'), ['execute?']);
});

test('a classification without PREPARE/EXECUTE passes through unchanged', () => {
  const c = classifyPostgres('SELECT 1');
  assert.equal(new PreparedStatements().resolve(c), c);
});
