// Forwarding through ssh connections as the policy judges it: off unless an allow rule names
// it, destinations matched as host:port globs, block and review rules as for any command.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Identity } from '../../src/identity/types.ts';
import { compilePolicy, type PolicyConnection } from '../../src/policy/policy.ts';
import { rulesSchema, type RuleInput } from '../../src/policy/rule-schema.ts';
import { classifyForward } from '../../src/policy/ssh-forwarding.ts';
import { classifierFor } from '../../src/policy/guard.ts';
import type { ForwardFacts } from '../../src/sql/types.ts';

const dev: Identity = { kind: 'user', subject: 'u-1', name: 'dev@example.com', groups: ['dev'] };
const box: PolicyConnection = { name: 'box', type: 'ssh' };

const policy = (rules: RuleInput[]) => compilePolicy(rulesSchema.parse(rules));
const decide = (p: ReturnType<typeof policy>, f: ForwardFacts, connection = box) =>
  p.decide({ identity: dev, connection, command: { text: 'forward' }, classification: classifyForward(f) });
const local = (host: string, port: number): ForwardFacts => ({ kind: 'local', host, port });

describe('forwarding rules', () => {
  test('off by default, and an allow rule that does not name forwarding does not allow it', () => {
    const none = decide(policy([]), local('db.internal', 5432));
    assert.equal(none.action, 'block');
    assert.match(none.reason, /forwarding \(local db\.internal:5432\) is off: no rule allows it/);
    const everything = policy([{ name: 'all', match: {}, action: 'allow' }, { name: 'ssh', match: { types: ['ssh'] }, action: 'allow' }]);
    assert.equal(decide(everything, local('db.internal', 5432)).action, 'block');
    assert.equal(decide(everything, { kind: 'agent' }).action, 'block');
  });

  test('an allow rule names destinations; anything else stays refused', () => {
    const p = policy([{ name: 'fwd', match: { types: ['ssh'], forwarding: { local: ['db.internal:5432', '*.internal:443'], remote: ['localhost:8080'], agent: true } }, action: 'allow' }]);
    assert.equal(decide(p, local('db.internal', 5432)).action, 'allow');
    assert.equal(decide(p, local('DB.Internal.', 5432)).action, 'allow', 'case and a trailing dot are the same name');
    assert.equal(decide(p, local('web.internal', 443)).action, 'allow');
    assert.equal(decide(p, local('db.internal', 22)).action, 'block');
    assert.equal(decide(p, local('db.internal.evil.com', 5432)).action, 'block');
    assert.equal(decide(p, local('internal', 443)).action, 'block');
    assert.equal(decide(p, { kind: 'remote', host: 'localhost', port: 8080 }).action, 'allow');
    assert.equal(decide(p, { kind: 'remote', host: '', port: 8080 }).action, 'block', 'every address is not localhost');
    assert.equal(decide(p, { kind: 'local', host: 'localhost', port: 8080 }).action, 'block', 'remote does not allow local');
    assert.equal(decide(p, { kind: 'agent' }).action, 'allow');
    assert.equal(decide(policy([{ name: 'l', match: { forwarding: { local: ['*:*'] } }, action: 'allow' }]), { kind: 'agent' }).action, 'block');
    assert.equal(decide(p, local('db.internal', 5432), { name: 'pg', type: 'postgres' }).action, 'block', 'types: [ssh] does not reach other types');
  });

  test('block and review rules meet forwards like any command; the first matching rule decides', () => {
    const p = policy([
      { name: 'no-contractors', match: { groups: ['dev'], forwarding: { local: ['*:22'] } }, action: 'block' },
      { name: 'held', match: { forwarding: { agent: true } }, action: 'review' },
      { name: 'fwd', match: { forwarding: { local: ['*:*'], agent: true } }, action: 'allow' },
    ]);
    assert.equal(decide(p, local('jump', 22)).rule, 'no-contractors');
    assert.equal(decide(p, local('jump', 22)).action, 'block');
    assert.equal(decide(p, { kind: 'agent' }).action, 'review');
    assert.equal(decide(p, local('jump', 2222)).action, 'allow');
    // a review rule over every ssh command holds forwards too
    assert.equal(decide(policy([{ name: 'all-held', match: { types: ['ssh'] }, action: 'review' }, { name: 'fwd', match: { forwarding: { local: ['*:*'] } }, action: 'allow' }]), local('a', 1)).action, 'review');
  });

  test('an exec of the same words is a shell command, never a forward (and the decisions are not shared)', () => {
    const p = policy([
      { name: 'regex', match: { regex: 'nothing-matches-this' }, action: 'block' },
      { name: 'fwd', match: { forwarding: { local: ['db.internal:5432'] } }, action: 'allow' },
      { name: 'no-forward-word', match: { commands: ['forward *'] }, action: 'block' },
    ]);
    const classify = classifierFor('ssh')!;
    const text = 'forward local db.internal:5432';
    const asForward = p.decide({ identity: dev, connection: box, command: { text }, classification: classify({ text, forward: local('db.internal', 5432) }) });
    const asExec = p.decide({ identity: dev, connection: box, command: { text }, classification: classify({ text }) });
    assert.equal(asForward.action, 'allow');
    assert.equal(asExec.action, 'block');
    assert.equal(asExec.rule, 'no-forward-word');
  });

  test('schema errors name the key', () => {
    const bad = (match: unknown, action = 'allow') => {
      const r = rulesSchema.safeParse([{ name: 'r', match, action }]);
      assert.equal(r.success, false);
      return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    };
    assert.match(bad({ forwarding: { local: ['db.internal'] } }), /0\.match\.forwarding\.local\.0: expected host:port/);
    assert.match(bad({ forwarding: { local: ['db:99999'] } }), /forwarding\.local\.0/);
    assert.match(bad({ forwarding: {} }), /0\.match\.forwarding: name local, remote or agent/);
    assert.match(bad({ forwarding: { agent: false } }), /forwarding\.agent/);
    assert.match(bad({ forwarding: { x11: true } }), /forwarding/);
    assert.match(bad({ types: ['postgres'], forwarding: { agent: true } }), /0\.match\.forwarding: forwarding is only through ssh connections/);
    assert.match(bad({ commands: ['ls'], forwarding: { agent: true } }), /0\.match\.forwarding: a rule names either commands or forwarding/);
    assert.doesNotThrow(() => rulesSchema.parse([{ name: 'r', match: { forwarding: { local: ['[::1]:5432', '10.0.0.*:*'], remote: ['*:8080'] } }, action: 'allow' }]));
  });
});
