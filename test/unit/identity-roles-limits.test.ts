// Roles from groups, the failed-authentication window, and the source address it counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolesOf, hasRole } from '../../src/identity/roles.ts';
import { FailureLimiter } from '../../src/identity/rate-limit.ts';
import { sourceAddress } from '../../src/identity/identity-service.ts';

test('roles map from groups; defaults admin<-admin etc.; admin passes every check; everyone is a user', () => {
  assert.deepEqual(rolesOf({ groups: ['dev'] }), ['user']);
  assert.deepEqual(rolesOf({ groups: ['auditor', 'approver'] }), ['auditor', 'approver', 'user']);
  assert.equal(hasRole({ groups: ['admin'] }, 'auditor'), true);
  assert.equal(hasRole({ groups: ['auditor'] }, 'approver'), false);
  const mapping = { admin: ['platform'], auditor: ['sec'], approver: ['leads'] };
  assert.deepEqual(rolesOf({ groups: ['admin', 'sec'] }, mapping), ['auditor', 'user']);
  assert.equal(hasRole({ groups: ['platform'] }, 'approver', mapping), true);
});

test('the failure window slides: N failures limit a key until the oldest leaves the window', () => {
  const l = new FailureLimiter({ windowMs: 1000, max: 3 });
  l.fail('a', 0);
  l.fail('a', 100);
  assert.equal(l.limited('a', 200), false);
  l.fail('a', 200);
  assert.equal(l.limited('a', 300), true);
  assert.equal(l.limited('b', 300), false);
  assert.equal(l.limited('a', 1001), false); // the failure at 0 slid out
  assert.equal(l.limited('a', 1100), false);
  l.fail('a', 1100);
  assert.equal(l.limited('a', 1150), false); // 200 and 1100 are in the window: two
  l.fail('a', 1120);
  assert.equal(l.limited('a', 1150), true);
});

test('the key map is bounded', () => {
  const l = new FailureLimiter({ windowMs: 1000, max: 1, maxKeys: 2 });
  l.fail('x', 0);
  l.fail('y', 0);
  l.fail('z', 0);
  assert.equal(l.limited('x', 1), false);
  assert.equal(l.limited('z', 1), true);
});

test('the source address drops the Postgres door\'s port and the IPv4-mapped prefix', () => {
  assert.equal(sourceAddress({ frontDoor: 'postgres', clientAddr: '127.0.0.1:5555' }), '127.0.0.1');
  assert.equal(sourceAddress({ frontDoor: 'postgres', clientAddr: '::ffff:10.0.0.1:5555' }), '10.0.0.1');
  assert.equal(sourceAddress({ frontDoor: 'postgres', clientAddr: '::1:5555' }), '::1');
  assert.equal(sourceAddress({ frontDoor: 'http', clientAddr: '::1' }), '::1');
  assert.equal(sourceAddress({ frontDoor: 'http', clientAddr: '::ffff:10.0.0.1' }), '10.0.0.1');
});
