import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Identity } from '../../src/identity/types.ts';
import { parseNamePattern, matchName } from '../../src/policy/names.ts';
import { compilePolicy, type PolicyConnection } from '../../src/policy/policy.ts';
import { parseDuration, rulesSchema, type RuleInput } from '../../src/policy/rule-schema.ts';
import { classifyPostgres, initPostgresParser } from '../../src/sql/postgres.ts';

before(async () => {
  await initPostgresParser();
});

const alice: Identity = { kind: 'user', subject: 'u-1', name: 'alice@example.com', groups: ['engineers'] };
const bot: Identity = { kind: 'service', subject: 's-1', name: 'ci-bot', groups: ['ai-agents'] };
const conn: PolicyConnection = { name: 'app-db' };

function policy(rules: RuleInput[], opts = {}) {
  return compilePolicy(rulesSchema.parse(rules), opts);
}
function decide(p: ReturnType<typeof policy>, text: string, identity = alice, connection = conn) {
  return p.decide({ identity, connection, command: { text }, classification: classifyPostgres(text) });
}

describe('rule schema', () => {
  test('accepts a full rule and fills review defaults', () => {
    const [r] = rulesSchema.parse([{ name: 'r', match: { kinds: ['delete'], noWhere: true }, action: 'review', review: { groups: ['dba'] } }]);
    assert.deepEqual(r.review, { groups: ['dba'], approvals: 1, timeout: '15m' });
  });
  test('refuses unknown keys, kinds, duplicate names, regex allow, review on block', () => {
    assert.throws(() => rulesSchema.parse([{ name: 'r', match: { kind: ['drop'] }, action: 'block' }]));
    assert.throws(() => rulesSchema.parse([{ name: 'r', match: { kinds: ['dropp'] }, action: 'block' }]));
    assert.throws(() => rulesSchema.parse([{ name: 'r', action: 'block' }, { name: 'r', action: 'allow' }]));
    assert.throws(() => rulesSchema.parse([{ name: 'r', match: { regex: 'select' }, action: 'allow' }]));
    assert.throws(() => rulesSchema.parse([{ name: 'r', action: 'block', review: { groups: ['x'] } }]));
    assert.throws(() => rulesSchema.parse([{ name: 'r', match: { regex: '(' }, action: 'block' }]));
  });
  test('durations', () => {
    assert.equal(parseDuration('15m'), 900_000);
    assert.throws(() => parseDuration('15 minutes'));
  });
});

describe('name patterns', () => {
  const m = (p: string, schema: string | undefined, name: string) => matchName(parseNamePattern(p), schema ? { schema, name } : { name });
  test('unquoted folds, quoted is exact, globs', () => {
    assert.equal(m('Secrets', undefined, 'secrets'), true);
    assert.equal(m('secrets', undefined, 'SeCrEtS'), false);
    assert.equal(m('"SeCrEtS"', undefined, 'SeCrEtS'), true);
    assert.equal(m('public.*', 'public', 'orders'), true);
    assert.equal(m('public.*', 'other', 'orders'), false);
    assert.equal(m('*.secrets', 'vault', 'secrets'), true);
    assert.equal(m('secrets', 'vault', 'secrets'), true);
    assert.equal(m('"a.b".c', 'a.b', 'c'), true);
    assert.equal(m('"x*"', undefined, 'xy'), false);
  });
});

describe('decisions', () => {
  test('no rule matched: allow, by default', () => {
    assert.equal(decide(policy([]), 'DELETE FROM t').action, 'allow');
  });
  test('first match wins, per statement', () => {
    const p = policy([
      { name: 'ok-delete', match: { kinds: ['delete'], tables: ['scratch'] }, action: 'allow' },
      { name: 'no-delete', match: { kinds: ['delete'] }, action: 'block', message: 'no deletes here' },
    ]);
    assert.equal(decide(p, 'DELETE FROM scratch').action, 'allow');
    const d = decide(p, 'DELETE FROM orders');
    assert.equal(d.action, 'block');
    assert.equal(d.rule, 'no-delete');
    assert.equal(d.reason, 'no deletes here');
  });
  test('the strictest statement decides a multi-statement command', () => {
    const p = policy([
      { name: 'rev', match: { kinds: ['update'] }, action: 'review', review: { groups: ['dba'], approvals: 2 } },
      { name: 'blk', match: { kinds: ['drop'] }, action: 'block' },
    ]);
    const d = decide(p, 'SELECT 1; UPDATE t SET a = 1 WHERE id = 1');
    assert.equal(d.action, 'review');
    assert.deepEqual(d.review, { groups: ['dba'], approvals: 2, timeout: '15m' });
    assert.deepEqual(d.statements.map((s) => s.action), ['allow', 'review']);
    assert.equal(decide(p, 'UPDATE t SET a = 1 WHERE id = 1; DROP TABLE t').action, 'block');
  });
  test('identity and connection conditions', () => {
    const p = policy([{ name: 'agents-read-only', match: { groups: ['ai-*'], categories: ['write', 'ddl', 'admin'] }, action: 'block' }, { name: 'alice-no-truncate', match: { users: ['alice@example.com'], kinds: ['truncate'] }, action: 'block' }, { name: 'prod', match: { connections: ['prod-*'], kinds: ['drop'] }, action: 'review' }]);
    assert.equal(decide(p, 'INSERT INTO t VALUES (1)', bot).action, 'block');
    assert.equal(decide(p, 'INSERT INTO t VALUES (1)', alice).action, 'allow');
    assert.equal(decide(p, 'TRUNCATE t', alice).action, 'block');
    assert.equal(decide(p, 'DROP TABLE t', alice, { name: 'prod-db' }).action, 'review');
    assert.equal(decide(p, 'DROP TABLE t', alice).action, 'allow');
  });
  test("a connection's rules come before the global ones", () => {
    const p = policy([{ name: 'global-block-drop', match: { kinds: ['drop'] }, action: 'block' }]);
    const dev: PolicyConnection = { name: 'dev', rules: rulesSchema.parse([{ name: 'dev-drop-ok', match: { kinds: ['drop'] }, action: 'allow' }]) };
    assert.equal(decide(p, 'DROP TABLE t', alice, dev).rule, 'dev-drop-ok');
    assert.equal(decide(p, 'DROP TABLE t', alice).rule, 'global-block-drop');
  });
  test('allow rules need every table to match; block rules any', () => {
    const p = policy([
      { name: 'public-ok', match: { tables: ['public.*'] }, action: 'allow' },
      { name: 'rest', match: {}, action: 'block' },
    ]);
    assert.equal(decide(p, 'SELECT * FROM orders').action, 'allow');
    assert.equal(decide(p, 'SELECT * FROM public.orders JOIN vault.keys ON true').action, 'block');
    assert.equal(decide(p, 'SELECT * FROM orders JOIN vault.keys ON true').action, 'block');
    // unqualified pg_* relations resolve to pg_catalog first
    assert.equal(decide(p, 'SELECT * FROM pg_authid').action, 'block');
    // no table at all: an allow on tables does not apply
    assert.equal(decide(p, "SELECT pg_read_file('x')").action, 'block');
  });
  test('unknown and opaque statements get onUnknown unless a rule names them', () => {
    const p = policy([{ name: 'all-ok', match: {}, action: 'allow' }]);
    assert.equal(decide(p, 'DO $$ BEGIN END $$').action, 'review');
    assert.equal(decide(p, 'not sql at all').action, 'review');
    assert.equal(decide(p, 'not sql at all', alice, { name: 'x', onUnknown: 'block' }).action, 'block');
    assert.equal(decide(p, 'SELECT 1; DO $$ BEGIN END $$', alice, { name: 'x', onUnknown: 'block' }).action, 'block');
    const named = policy([{ name: 'do-ok', match: { kinds: ['do'] }, action: 'allow' }]);
    assert.equal(decide(named, 'DO $$ BEGIN END $$').action, 'allow');
    const opaqueOk = policy([{ name: 'opaque-ok', match: { opaque: true, groups: ['engineers'] }, action: 'allow' }]);
    assert.equal(decide(opaqueOk, 'DO $$ BEGIN END $$').action, 'allow');
    assert.equal(decide(opaqueOk, 'DO $$ BEGIN END $$', bot).action, 'review');
    const blockAll = policy([{ name: 'nothing', match: {}, action: 'block' }]);
    assert.equal(decide(blockAll, 'DO $$ BEGIN END $$').action, 'block');
  });
  test('regex matches the whole text, case-insensitively', () => {
    const p = policy([{ name: 'no-sleep', match: { regex: 'pg_sleep\\s*\\(\\s*[0-9]{3,}' }, action: 'block' }]);
    assert.equal(decide(p, 'SELECT PG_SLEEP(1000)').action, 'block');
    assert.equal(decide(p, 'SELECT pg_sleep(1)').action, 'allow');
  });
  test('decisions are cached per normalized text, identity groups and connection', () => {
    const p = policy([{ name: 'agents', match: { groups: ['ai-agents'], kinds: ['delete'] }, action: 'block' }]);
    const a = decide(p, 'DELETE FROM t WHERE id = 1');
    assert.equal(decide(p, 'DELETE FROM t WHERE id = 2'), a);
    assert.equal(decide(p, 'DELETE FROM t WHERE id = 2', bot).action, 'block');
    assert.equal(decide(p, 'DELETE FROM t WHERE id = 2').action, 'allow');
  });
});

describe('rules by connection type', () => {
  const pgConn: PolicyConnection = { name: 'app-db', type: 'postgres' };
  const myConn: PolicyConnection = { name: 'shop', type: 'mysql' };
  const p = policy([
    { name: 'mysql-no-delete', match: { types: ['mysql'], kinds: ['delete'] }, action: 'block' },
    { name: 'pg-reads', match: { types: ['postgres'], categories: ['read'] }, action: 'allow' },
    { name: 'rest', match: {}, action: 'review', review: { groups: ['dba'] } },
  ]);

  test('a rule naming a type applies to connections of that type only', () => {
    assert.equal(decide(p, 'DELETE FROM t WHERE id = 1', alice, myConn).rule, 'mysql-no-delete');
    assert.equal(decide(p, 'DELETE FROM t WHERE id = 1', alice, pgConn).action, 'review');
    assert.equal(decide(p, 'SELECT 1', alice, pgConn).action, 'allow');
    assert.equal(decide(p, 'SELECT 1', alice, myConn).action, 'review');
  });

  test('with the type not known, a block rule matches and an allow rule does not', () => {
    assert.equal(decide(p, 'DELETE FROM t WHERE id = 1', alice, { name: 'probe' }).action, 'block');
    assert.equal(decide(p, 'SELECT 1', alice, { name: 'probe' }).action, 'review');
  });

  test('an unknown type is a config error naming the key', () => {
    assert.throws(() => rulesSchema.parse([{ name: 'x', match: { types: ['oracle'] }, action: 'block' }]), /types/);
  });
});
