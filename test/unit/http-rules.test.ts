// Rules over an HTTP request's query, headers and JSON body fields: the schema (mistakes
// named by key), the matcher (any value for block and review rules, every value for allow
// rules, unreadable bodies opaque), body paths, and the duplicate-key check.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Identity } from '../../src/identity/types.ts';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { classifyHttp } from '../../src/policy/http-commands.ts';
import { select } from '../../src/policy/http-match.ts';
import { parseBodyPath } from '../../src/policy/http-rule-schema.ts';
import { compilePolicy, type PolicyConnection } from '../../src/policy/policy.ts';
import { rulesSchema, type RuleInput } from '../../src/policy/rule-schema.ts';
import { duplicateKey } from '../../src/protocols/http/json-keys.ts';
import type { HttpRequestFacts } from '../../src/sql/types.ts';

const bot: Identity = { kind: 'service', subject: 's-1', name: 'agent', groups: ['ai'] };
const conn: PolicyConnection = { name: 'claude', type: 'http' };

function judge(rules: RuleInput[], text: string, facts: HttpRequestFacts = {}, connection = conn) {
  const p = compilePolicy(rulesSchema.parse(rules));
  return p.decide({ identity: bot, connection, command: { text }, classification: classifyHttp(text, facts) });
}
const json = (v: unknown): HttpRequestFacts => ({ headers: {}, body: { json: v } });

describe('schema', () => {
  test('mistakes name their key: a bad body path, a bad comparison, a token header, an empty query', () => {
    try {
      parseConfig({
        rules: [
          { name: 'a', match: { body: { 'tools[x].name': 'bash' } }, action: 'block' },
          { name: 'b', match: { body: { max_tokens: { greater: 4096 } } }, action: 'block' },
          { name: 'c', match: { headers: { 'X-Api-Key': '*' } }, action: 'block' },
          { name: 'd', match: { query: {} }, action: 'block' },
          { name: 'e', match: { headers: { 'bad name': '*' } }, action: 'block' },
        ],
      });
      assert.fail('expected a ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      const all = e.problems.join('\n');
      assert.match(all, /rules\.0\.match\.body\.tools\[x\]\.name: "tools\[x\]\.name" is not a body field path/);
      assert.match(all, /rules\.1\.match\.body\.max_tokens: Unrecognized key: "greater"/);
      assert.match(all, /rules\.2\.match\.headers\.X-Api-Key: X-Api-Key carries the caller's Warden token/);
      assert.match(all, /rules\.3\.match\.query: query names at least one parameter/);
      assert.match(all, /rules\.4\.match\.headers\.bad name: "bad name" is not a header name/);
    }
  });

  test('judgeBodyBytes: 1 MiB by default, at least 1 KiB', () => {
    const base = { name: 'c', type: 'http', url: 'https://api.example.com' };
    const [c] = parseConfig({ connections: [base] }).connections;
    assert.equal(c!.type === 'http' && c!.judgeBodyBytes, 1024 * 1024);
    assert.throws(() => parseConfig({ connections: [{ ...base, judgeBodyBytes: 10 }] }), (e: unknown) => e instanceof ConfigError && /connections\.0\.judgeBodyBytes/.test(e.problems.join('\n')));
  });

  test('body paths: keys, every element, an index', () => {
    assert.deepEqual(parseBodyPath('tools[*].name'), [{ key: 'tools' }, { every: true }, { key: 'name' }]);
    assert.deepEqual(parseBodyPath('messages[0].content[*].type'), [{ key: 'messages' }, { index: 0 }, { key: 'content' }, { every: true }, { key: 'type' }]);
    assert.deepEqual(parseBodyPath('[*].model'), [{ every: true }, { key: 'model' }]);
    for (const bad of ['', 'a..b', 'a.', '.a', 'a[', 'a[-1]', 'a]b']) assert.equal(parseBodyPath(bad), null, bad);
    const body = { tools: [{ name: 'bash' }, { name: 'web' }, 'x'], messages: [{ role: 'user' }] };
    assert.deepEqual(select(body, parseBodyPath('tools[*].name')!), ['bash', 'web']);
    assert.deepEqual(select(body, parseBodyPath('messages[0].role')!), ['user']);
    assert.deepEqual(select(body, parseBodyPath('messages[3].role')!), []);
    assert.deepEqual(select(body, parseBodyPath('tools.name')!), []);
  });
});

describe('matching', () => {
  const opus = { name: 'no-opus', match: { types: ['http' as const], body: { model: ['claude-opus-*'] } }, action: 'block' as const };

  test('a body field by glob: the model it names decides', () => {
    assert.equal(judge([opus], 'POST /v1/messages', json({ model: 'claude-opus-4' })).action, 'block');
    assert.equal(judge([opus], 'POST /v1/messages', json({ model: 'claude-haiku-4' })).action, 'allow');
    // a glob is anchored and reads newlines too
    assert.equal(judge([opus], 'POST /v1/messages', json({ model: 'claude-opus-4\nx' })).action, 'block');
    assert.equal(judge([opus], 'POST /v1/messages', json({ model: 'x-claude-opus-4' })).action, 'allow');
    // without case for a block rule; exactly for an allow rule
    assert.equal(judge([opus], 'POST /v1/messages', json({ model: 'Claude-OPUS-4' })).action, 'block');
    const haiku: RuleInput[] = [{ name: 'haiku', match: { body: { model: 'claude-haiku-*' } }, action: 'allow' }, { name: 'rest', match: {}, action: 'block' }];
    assert.equal(judge(haiku, 'POST /v1/messages', json({ model: 'claude-haiku-4' })).action, 'allow');
    assert.equal(judge(haiku, 'POST /v1/messages', json({ model: 'CLAUDE-HAIKU-4' })).action, 'block');
    // no body, or one without the field: nothing to match
    assert.equal(judge([opus], 'POST /v1/messages', { headers: {}, body: { none: true } }).action, 'allow');
    assert.equal(judge([opus], 'POST /v1/messages', json({ messages: [] })).action, 'allow');
  });

  test('a body that cannot be read is opaque: onUnknown decides, never "the field is absent"', () => {
    const facts: HttpRequestFacts = { headers: {}, body: { opaque: 'it is not JSON' } };
    const d = judge([opus], 'POST /v1/messages', facts);
    assert.equal(d.action, 'review');
    assert.match(d.reason, /the request body cannot be judged: it is not JSON; the connection's onUnknown is review/);
    assert.equal(judge([opus], 'POST /v1/messages', facts, { ...conn, onUnknown: 'block' }).action, 'block');
    // an allow rule that does not name opaque does not let it through
    const allowHaiku = { name: 'haiku', match: { body: { model: 'claude-haiku-*' } }, action: 'allow' as const };
    assert.equal(judge([allowHaiku, { name: 'rest', match: {}, action: 'block' }], 'POST /v1/messages', facts).action, 'block');
    // a block rule that needs no body still blocks it
    assert.equal(judge([{ name: 'p', match: { paths: ['/v1/*'] }, action: 'block' }], 'POST /v1/messages', facts).action, 'block');
  });

  test('tools[*].name: a block rule matches any tool, an allow rule needs every tool', () => {
    const review = { name: 'shell', match: { body: { 'tools[*].name': ['bash', 'computer'] } }, action: 'review' as const };
    assert.equal(judge([review], 'POST /v1/messages', json({ tools: [{ name: 'web' }, { name: 'bash' }] })).action, 'review');
    assert.equal(judge([review], 'POST /v1/messages', json({ tools: [{ name: 'web' }] })).action, 'allow');
    const rules: RuleInput[] = [{ name: 'safe-tools', match: { body: { 'tools[*].name': ['web', 'calc'] } }, action: 'allow' }, { name: 'rest', match: {}, action: 'block' }];
    assert.equal(judge(rules, 'POST /v1/messages', json({ tools: [{ name: 'web' }, { name: 'calc' }] })).action, 'allow');
    assert.equal(judge(rules, 'POST /v1/messages', json({ tools: [{ name: 'web' }, { name: 'bash' }] })).action, 'block');
    assert.equal(judge(rules, 'POST /v1/messages', json({ tools: [] })).action, 'block');
  });

  test('numeric comparisons: numbers, numbers as text, and values that are neither', () => {
    const big = { name: 'big', match: { body: { max_tokens: { gt: 4096 } } }, action: 'block' as const };
    assert.equal(judge([big], 'POST /v1/messages', json({ max_tokens: 8192 })).action, 'block');
    assert.equal(judge([big], 'POST /v1/messages', json({ max_tokens: 4096 })).action, 'allow');
    assert.equal(judge([big], 'POST /v1/messages', json({ max_tokens: '8192' })).action, 'block');
    assert.equal(judge([big], 'POST /v1/messages', { headers: {}, body: { json: JSON.parse('{"max_tokens":1e400}') } }).action, 'block');
    // cannot be compared: a block rule counts it, an allow rule does not
    assert.equal(judge([big], 'POST /v1/messages', json({ max_tokens: true })).action, 'block');
    const small: RuleInput[] = [{ name: 'small', match: { body: { max_tokens: { lte: 1024 } } }, action: 'allow' }, { name: 'rest', match: {}, action: 'block' }];
    assert.equal(judge(small, 'POST /v1/messages', json({ max_tokens: 512 })).action, 'allow');
    assert.equal(judge(small, 'POST /v1/messages', json({ max_tokens: [512] })).action, 'block');
    const range = { name: 'mid', match: { body: { max_tokens: { gte: 100, lt: 200 } } }, action: 'block' as const };
    assert.deepEqual([99, 100, 199, 200].map((n) => judge([range], 'POST /x', json({ max_tokens: n })).action), ['allow', 'block', 'block', 'allow']);
  });

  test('scalars compare by their JSON text: stream: "true" matches true', () => {
    const rule = { name: 's', match: { body: { stream: true } }, action: 'block' as const };
    assert.equal(judge([rule], 'POST /v1/messages', json({ stream: true })).action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages', json({ stream: 'true' })).action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages', json({ stream: false })).action, 'allow');
  });

  test('query parameters: decoded, every value of a repeated one', () => {
    const rule = { name: 'q', match: { query: { beta: 'true' } }, action: 'block' as const };
    assert.equal(judge([rule], 'POST /v1/messages?beta=true').action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages?beta=false&beta=true').action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages?beta=%74rue').action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages?beta=false').action, 'allow');
    assert.equal(judge([rule], 'POST /v1/messages').action, 'allow');
    const allow: RuleInput[] = [{ name: 'v', match: { query: { version: '1' } }, action: 'allow' }, { name: 'rest', match: {}, action: 'block' }];
    assert.equal(judge(allow, 'GET /x?version=1').action, 'allow');
    assert.equal(judge(allow, 'GET /x?version=1&version=2').action, 'block');
  });

  test('headers: names without case, every value of a repeated header, comma lists read both ways', () => {
    const rule = { name: 'h', match: { headers: { 'Anthropic-Beta': 'computer-use-*' } }, action: 'block' as const };
    const h = (values: string[]): HttpRequestFacts => ({ headers: { 'anthropic-beta': values } });
    assert.equal(judge([rule], 'POST /v1/messages', h(['computer-use-2025-01-24'])).action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages', h(['tools-2024', 'computer-use-2025-01-24'])).action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages', h(['tools-2024, computer-use-2025-01-24'])).action, 'block');
    assert.equal(judge([rule], 'POST /v1/messages', h(['tools-2024'])).action, 'allow');
    assert.equal(judge([rule], 'POST /v1/messages', { headers: {} }).action, 'allow');
    const allow: RuleInput[] = [{ name: 'team', match: { headers: { 'x-team': 'ml' } }, action: 'allow' }, { name: 'rest', match: {}, action: 'block' }];
    assert.equal(judge(allow, 'GET /x', { headers: { 'x-team': ['ml'] } }).action, 'allow');
    assert.equal(judge(allow, 'GET /x', { headers: { 'x-team': ['ml', 'ops'] } }).action, 'block');
    assert.equal(judge(allow, 'GET /x', { headers: { 'x-team': ['ml, ops'] } }).action, 'block');
  });

  test('decisions over headers and bodies are not served from the cache of the text', () => {
    const p = compilePolicy(rulesSchema.parse([{ name: 'no-opus', match: { body: { model: 'claude-opus-*' } }, action: 'block' }]));
    const run = (model: string) => p.decide({ identity: bot, connection: conn, command: { text: 'POST /v1/messages' }, classification: classifyHttp('POST /v1/messages', json({ model })) }).action;
    assert.equal(run('claude-haiku-4'), 'allow');
    assert.equal(run('claude-opus-4'), 'block');
  });

  test('the body is read only when a rule that could apply to the request needs it', () => {
    const p = compilePolicy(rulesSchema.parse([
      { name: 'opus-on-messages', match: { types: ['http'], methods: ['POST'], paths: ['/v1/messages'], body: { model: 'claude-opus-*' } }, action: 'block' },
      { name: 'paths-only', match: { paths: ['/admin/*'] }, action: 'block' },
    ]));
    const reads = (method: string, path: string, connection = conn) => p.readsHttpBody({ identity: bot, connection, method, path });
    assert.equal(reads('POST', '/v1/messages'), true);
    assert.equal(reads('POST', '/v1/files'), false);
    assert.equal(reads('GET', '/v1/messages'), false);
    assert.equal(reads('POST', '/v1/messages', { name: 'pg', type: 'postgres' }), false);
    const own = { name: 'other', type: 'http', rules: rulesSchema.parse([{ name: 'big', match: { body: { max_tokens: { gt: 1 } } }, action: 'review' }]) };
    assert.equal(reads('POST', '/v1/files', own), true);
  });
});

describe('duplicate keys', () => {
  test('found at any depth, escaped spellings decoded; distinct objects and string contents are not keys', () => {
    assert.equal(duplicateKey('{"model":"a","model":"b"}'), 'model');
    assert.equal(duplicateKey('{"model":"a","mod\\u0065l":"b"}'), 'model');
    assert.equal(duplicateKey('{"a":[{"name":"x","name":"y"}]}'), 'name');
    assert.equal(duplicateKey('{"a":{"x":1},"b":{"x":2}}'), null);
    assert.equal(duplicateKey('{"a":"\\"b\\":1, \\"a\\":","b":["a","a"]}'), null);
    assert.equal(duplicateKey('[{"k":1},{"k":2}]'), null);
    assert.equal(duplicateKey(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), null);
  });
});
