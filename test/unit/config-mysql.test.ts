// The MySQL parts of warden.yaml: the door's address and `type: mysql` connections, their
// defaults, and mistakes named by key path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/config/load.ts';

test('the MySQL door listens on 127.0.0.1:13306 unless told otherwise; null turns it off', () => {
  assert.equal(parseConfig({}).gateway.listen.mysql, '127.0.0.1:13306');
  assert.equal(parseConfig({ gateway: { listen: { mysql: null } } }).gateway.listen.mysql, null);
});

test('a mysql connection with its defaults', () => {
  const c = parseConfig({ connections: [{ name: 'shop', type: 'mysql', host: 'db.internal', password: 'x', access: { groups: ['dev'] } }] }).connections[0]!;
  assert.equal(c.type, 'mysql');
  assert.equal(c.port, 3306);
  assert.equal(c.user, 'root');
  assert.equal(c.database, undefined, 'no default database unless one is named');
  assert.equal(c.onUnknown, 'review');
});

test('a mistake in a mysql connection names its key path', () => {
  try {
    parseConfig({ connections: [{ name: 'shop', type: 'mysql', port: 'x', tls: { mode: 'sometimes' }, dbname: 'a' }] });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const joined = e.problems.join('\n');
    assert.match(joined, /connections\.0\.port: .*expected number/);
    assert.match(joined, /connections\.0\.tls/);
    assert.match(joined, /connections\.0: Unrecognized key: "dbname"/);
  }
});
