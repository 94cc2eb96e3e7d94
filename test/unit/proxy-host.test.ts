// The proxy's host-based form decided on the URL before routing (host-route.ts): which Hosts
// become /proxy/<connection><path>, which are refused, which route as before; and the
// gateway.proxyDomain key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { HOST_REFUSED, proxyHostRewrite } from '../../src/protocols/http/host-route.ts';

const rewrite = proxyHostRewrite('proxy.example.com');
const at = (host: string | undefined, url: string) => rewrite({ url, headers: host === undefined ? {} : { host } } as never);

test('one label under the domain is that connection, with the whole path and query; case, a port and a final dot do not matter', () => {
  assert.equal(at('claude.proxy.example.com', '/v1/messages?beta=true'), '/proxy/claude/v1/messages?beta=true');
  assert.equal(at('Claude.PROXY.example.com:8009', '/'), '/proxy/claude/');
  assert.equal(at('claude.proxy.example.com.', '/api/v1/tokens'), '/proxy/claude/api/v1/tokens');
  assert.equal(at('claude.proxy.example.com', '/proxy/other/x'), '/proxy/claude/proxy/other/x');
});

test('a host under the domain that is not exactly one label, or a target that is not a path, is refused', () => {
  for (const host of ['a.b.proxy.example.com', '.proxy.example.com', 'claude_x.proxy.example.com', '-x.proxy.example.com', 'claude.proxy.example.com:port', 'u@claude.proxy.example.com', 'claude.proxy.example.com/x']) {
    assert.equal(at(host, '/'), HOST_REFUSED, host);
  }
  assert.equal(at('claude.proxy.example.com', '*'), HOST_REFUSED);
  assert.equal(at('claude.proxy.example.com', 'http://127.0.0.1/api/v1/tokens'), HOST_REFUSED);
});

test('the domain itself, other names and no Host at all route as before', () => {
  assert.equal(at('proxy.example.com', '/api/v1/sessions'), '/api/v1/sessions');
  assert.equal(at('127.0.0.1:8009', '/mcp'), '/mcp');
  assert.equal(at('claude.proxy.example.com.evil.org', '/healthz'), '/healthz');
  assert.equal(at('xproxy.example.com', '/healthz'), '/healthz');
  assert.equal(at(undefined, '/healthz'), '/healthz');
});

test('gateway.proxyDomain: a DNS name (kept lowercase), absent by default; anything else is refused with its key', () => {
  assert.equal(parseConfig({}).gateway.proxyDomain, undefined);
  assert.equal(parseConfig({ gateway: { proxyDomain: 'Proxy.Example.com' } }).gateway.proxyDomain, 'proxy.example.com');
  for (const bad of ['*.proxy.example.com', 'http://proxy.example.com', 'proxy.example.com:8009', '']) {
    assert.throws(() => parseConfig({ gateway: { proxyDomain: bad } }), (e) => e instanceof ConfigError && /gateway\.proxyDomain/.test(e.problems.join('\n')), bad);
  }
});
