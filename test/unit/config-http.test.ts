// `type: http` connections in warden.yaml: the target URL, the injected credential, TLS, and
// mistakes named by key path; and the rules' `methods` and `paths`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { normalizePath, AmbiguousPath } from '../../src/protocols/http/request-path.ts';

test('an http connection with a header credential, and one with a query credential', () => {
  const [a, b] = parseConfig({
    connections: [
      { name: 'claude', type: 'http', url: 'https://api.anthropic.com', credential: { header: 'x-api-key', value: 'k' }, access: { groups: ['ai'] } },
      { name: 'maps', type: 'http', url: 'http://maps.internal:8080/api', credential: { query: 'key', value: 'k' }, tls: { verify: false } },
    ],
  }).connections;
  assert.equal(a!.type, 'http');
  assert.equal(b!.type === 'http' && b!.tls?.verify, false);
});

test('mistakes name their key: a URL that is not http(s), a credential with neither header nor query, a bad method in a rule', () => {
  try {
    parseConfig({
      connections: [{ name: 'x', type: 'http', url: 'ftp://files.example.com', credential: { value: 'k' } }],
      rules: [{ name: 'r', match: { methods: ['DEL ETE'] }, action: 'block' }],
    });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const joined = e.problems.join('\n');
    assert.match(joined, /connections\.0\.url: expected an http:\/\/ or https:\/\/ URL/);
    assert.match(joined, /connections\.0\.credential/);
    assert.match(joined, /rules\.0\.match\.methods\.0: an HTTP method/);
  }
});

test('paths are judged in one form: dot segments, repeated slashes and encoded letters resolved; encoded slashes refused', () => {
  assert.equal(normalizePath('/v1//messages/./batches'), '/v1/messages/batches');
  assert.equal(normalizePath('/v1/a/../messages/b%61tches'), '/v1/messages/batches');
  assert.equal(normalizePath('/v1/%2e%2e/admin'), '/admin');
  assert.throws(() => normalizePath('/v1/messages%2Fbatches'), AmbiguousPath);
  assert.throws(() => normalizePath('/v1\\admin'), AmbiguousPath);
});
