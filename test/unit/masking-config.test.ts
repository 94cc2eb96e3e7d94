// The `masking:` config section: defaults, errors that name the key, per-connection overrides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker, connectionMaskingSchema, maskingConfigSchema, resolveMaskingConfig } from '../../src/masking/index.ts';
import { pgResult } from '../helpers/pg-masking.ts';

test('defaults: on, every entity, redact, built-in column rules', () => {
  const c = maskingConfigSchema.parse(undefined);
  assert.equal(c.enabled, true);
  assert.deepEqual(c.entities, ['all']);
  assert.equal(c.style, 'redact');
  assert.equal(c.defaultColumns, true);
  assert.equal(c.typedReplacement, 'null');
});

test('mistakes are named by key path', () => {
  const bad = maskingConfigSchema.safeParse({
    entities: ['pii', 'emails'],
    style: 'blur',
    custom: [{ name: 'x', regex: '(' }, { name: 'email', denyList: ['a'] }, { name: 'both', regex: 'a', denyList: ['b'] }],
    columns: [{ style: 'hash' }],
    hmacKey: 'short',
  });
  assert.ok(!bad.success);
  const paths = bad.error.issues.map((i) => i.path.join('.'));
  for (const p of ['style', 'custom.0.regex', 'custom.1.name', 'custom.2', 'columns.0.match', 'hmacKey']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  // cross-field checks run once the fields themselves parse
  const unknown = maskingConfigSchema.safeParse({ entities: ['pii', 'emails'], styles: { nope: 'hash' } });
  assert.ok(!unknown.success);
  assert.deepEqual(unknown.error.issues.map((i) => i.path.join('.')).sort(), ['entities', 'styles.nope']);
  assert.match(unknown.error.issues[0].message, /emails/);
});

test('custom entity names may be listed in entities', () => {
  const ok = maskingConfigSchema.safeParse({ entities: ['secrets', 'project'], custom: [{ name: 'project', denyList: ['Bluebird'] }] });
  assert.ok(ok.success);
  const m = compileMasker(ok.data);
  assert.equal(m.maskText('Bluebird a@example.com token=ghp_' + 'a1B2'.repeat(9)), '[PROJECT] a@example.com token=[API_TOKEN]');
});

test('per connection: scalars override, rules come first, custom entities merge by name', () => {
  const global = maskingConfigSchema.parse({ style: 'redact', columns: [{ match: 'notes' }], custom: [{ name: 'code', regex: 'C-\\d+' }] });
  const conn = connectionMaskingSchema.parse({ style: 'partial', columns: [{ match: 'notes', action: 'skip' }], custom: [{ name: 'code', regex: 'K-\\d+' }] });
  const eff = resolveMaskingConfig(global, conn);
  assert.equal(eff.style, 'partial');
  assert.equal(eff.columns[0].action, 'skip');
  assert.equal(eff.custom.length, 1);
  const m = compileMasker(eff);
  assert.equal(pgResult(m, [{ name: 'notes', typeOid: 25 }]).maskText(0, 'free text'), 'free text');
  assert.equal(m.maskText('C-1 K-2'), 'C-1 K***');
  assert.equal(resolveMaskingConfig(global, undefined), global);
  assert.equal(connectionMaskingSchema.safeParse({ enabled: 'yes' }).success, false);
});

test('defaultColumns: false leaves column names alone', () => {
  const m = compileMasker({ defaultColumns: false });
  assert.equal(pgResult(m, [{ name: 'password', typeOid: 25 }]).maskText(0, 'hunter2'), 'hunter2');
});
