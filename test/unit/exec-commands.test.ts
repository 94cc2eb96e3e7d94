// Exec connections' pure parts: credentials replaced in a stream even when split across
// writes, the argv classifier (reads, writes, opaque), and the `commands` globs on argv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialScrubber, credentialValues, CREDENTIAL_MARK } from '../../src/protocols/exec/credentials.ts';
import { classifyExec } from '../../src/policy/exec-commands.ts';
import { displayArgv } from '../../src/protocols/exec/argv.ts';
import { compilePolicy } from '../../src/policy/policy.ts';
import { rulesSchema } from '../../src/policy/rule-schema.ts';

test('a credential split across writes, at any point, never gets out', () => {
  const secret = 'sk-live-0123456789abcdef';
  const text = `before ${secret} middle ${secret}${secret} after`;
  for (let cut = 0; cut <= text.length; cut++) {
    for (const step of [1, 3, 7]) {
      const s = new CredentialScrubber([secret]);
      let out = s.push(text.slice(0, cut));
      for (let i = cut; i < text.length; i += step) out += s.push(text.slice(i, i + step));
      out += s.end();
      assert.equal(out, `before ${CREDENTIAL_MARK} middle ${CREDENTIAL_MARK}${CREDENTIAL_MARK} after`, `cut ${cut} step ${step}`);
    }
  }
});

test('what cannot begin a credential is let out at once (no waiting for the end)', () => {
  const s = new CredentialScrubber(['sk-live-0123456789abcdef']);
  assert.equal(s.push('hello world\n'), 'hello world\n');
  assert.equal(s.push('ends with sk-li'), 'ends with ');
  assert.equal(s.push('ght'), 'sk-light');
});

test('credential values: env values, whole files and their secret-looking pieces, not format words', () => {
  const v = credentialValues({
    env: { PGPASSWORD: 'pg-pass-1234', KUBECONFIG: '${credentialFile:kube}' },
    files: { kube: 'apiVersion: v1\ncurrent-context: prod\nusers:\n- user:\n    token: eyJhbGciOiJSUzI1NiIsImtpZCI6\n', sa: '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"}' },
  });
  assert.ok(v.includes('pg-pass-1234'));
  assert.ok(v.includes('eyJhbGciOiJSUzI1NiIsImtpZCI6'));
  assert.ok(v.includes('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'));
  assert.ok(!v.some((x) => x.includes('${credentialFile:')), 'a path is no secret');
  assert.ok(!v.includes('current-context') && !v.includes('apiVersion'));
  assert.deepEqual(v, [...v].sort((a, b) => b.length - a.length), 'longest first');
});

test('argv classification: known reads and writes, the rest opaque; flags with values are read', () => {
  const c = (...argv: string[]) => classifyExec(argv).statements[0]!;
  assert.equal(c('kubectl', 'get', 'pods').category, 'read');
  assert.equal(c('kubectl', '-n', 'prod', 'get', 'pods').category, 'read');
  assert.equal(c('kubectl', '--namespace=prod', 'logs', 'x').category, 'read');
  assert.equal(c('kubectl', 'config', 'view', '--raw').category, 'read');
  assert.equal(c('kubectl', 'delete', 'pod', 'x').category, 'write');
  assert.equal(c('kubectl', 'config', 'use-context', 'x').category, 'write');
  assert.equal(c('git', '--version').category, 'read');
  assert.equal(c('git', '-C', 'repo', 'log').category, 'read');
  assert.equal(c('git', 'push').category, 'write');
  // an option Warden does not know could take the next word as its value: not guessed
  assert.equal(c('kubectl', '--weird', 'get', 'delete').opaque, true);
  assert.equal(c('psql', '-c', 'select 1').opaque, true);
  assert.equal(c('kubectl', 'frobnicate').opaque, true);
  assert.equal(c().opaque, true);
  assert.equal(c('kubectl', 'create', 'token', 'default').opaque, true, 'mints a credential: never allowed as a mere write');
  assert.match(c('kubectl', 'create', 'token', 'default').opaqueReason ?? '', /prints a new credential/);
  assert.equal(c('kubectl', 'create', 'deployment', 'x').category, 'write');
  assert.deepEqual(c('kubectl', 'get', 'a b').ssh, { argv: ['kubectl', 'get', 'a b'] });
});

test('commands globs judge argv; an allow rule naming the words applies to an opaque command, onUnknown to the rest', () => {
  const policy = compilePolicy(rulesSchema.parse([
    { name: 'no-delete', match: { commands: ['kubectl delete *'] }, action: 'block' },
    { name: 'psql-read', match: { types: ['exec'], commands: ['psql -c select *'] }, action: 'allow' },
  ]));
  const identity = { kind: 'user', subject: 'u', name: 'u', groups: ['dev'] } as never;
  const connection = { name: 'x', type: 'exec', onUnknown: 'review' as const };
  const decide = (...argv: string[]) => policy.decide({ identity, connection, command: { text: displayArgv(argv) }, classification: classifyExec(argv) }).action;
  assert.equal(decide('kubectl', 'delete', 'pod', 'x'), 'block');
  assert.equal(decide('kubectl', 'get', 'pods'), 'allow');
  assert.equal(decide('psql', '-c', 'select 1'), 'allow');
  assert.equal(decide('psql', '-c', 'delete from t'), 'review', 'opaque and named by no rule: onUnknown');
  assert.equal(decide('/usr/bin/kubectl', 'delete', 'x'), 'block', 'by base name too');
});

test('argv shown as a shell would need it, so it reads back to the same words', () => {
  assert.equal(displayArgv(['echo', 'a b', "it's", '$(x)', 'plain-1.2']), `echo 'a b' 'it'\\''s' '$(x)' plain-1.2`);
});
