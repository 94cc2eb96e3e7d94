import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAccess } from '../../src/session/access.ts';
import type { Identity } from '../../src/identity/types.ts';

const who = (groups: string[], name = 'ann'): Identity => ({ kind: 'user', subject: `sub-${name}`, name, groups });
const conn = (groups: string[], users: string[] = []) => ({ name: 'app-db', access: { groups, users } });

test('deny by default: no group, no access', () => {
  assert.equal(checkAccess(who([]), conn([])).allowed, false);
  assert.equal(checkAccess(who(['engineers']), conn([])).allowed, false);
  assert.equal(checkAccess(who(['admin']), conn(['engineers'])).allowed, false, 'admin gets no implicit access to data');
  const a = checkAccess(who(['sales']), conn(['engineers', 'ai-agents']));
  assert.equal(a.allowed, false);
  assert.match(a.reason, /ann \(groups sales\) is not allowed to use connection "app-db"/);
});

test('a listed group or user lets the caller in', () => {
  assert.deepEqual(checkAccess(who(['x', 'ai-agents']), conn(['engineers', 'ai-agents'])), { allowed: true, reason: 'group ai-agents' });
  assert.equal(checkAccess(who([], 'bob'), conn([], ['bob'])).allowed, true);
  assert.equal(checkAccess(who([], 'bob'), conn([], ['sub-bob'])).allowed, true);
  // Group names match exactly: no prefix or case folding.
  assert.equal(checkAccess(who(['Engineers']), conn(['engineers'])).allowed, false);
  assert.equal(checkAccess(who(['engineers-x']), conn(['engineers'])).allowed, false);
});
