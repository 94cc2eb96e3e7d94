// Where a proxied request goes (request-path.ts proxyTarget): the connection's base URL with the
// normalized path and the query, and the path as the rules judge it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbiguousPath, proxyTarget } from '../../src/protocols/http/request-path.ts';

test('the base URL\'s own path is kept, the rest normalized, the query carried', () => {
  const { target, shownPath } = proxyTarget('https://api.example.com/base/', '/proxy/n/v1//./b%61tch?x=1&y=a%20b');
  assert.equal(target.href, 'https://api.example.com/base/v1/batch?x=1&y=a%20b');
  assert.equal(shownPath, '/v1/batch?x=1&y=a%20b');
  assert.equal(proxyTarget('http://h:81', '/proxy/n').target.href, 'http://h:81/');
});

test('an encoded slash, or a URL that is not /proxy/<name>/..., is refused', () => {
  assert.throws(() => proxyTarget('http://h', '/proxy/n/a%2fb'), AmbiguousPath);
  assert.throws(() => proxyTarget('http://h', '/elsewhere/a'), AmbiguousPath);
});
