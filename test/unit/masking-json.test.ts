// JSON masking: by key (column rules by name) and by value; untouched documents come back as is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';

const m = compileMasker({ columns: [{ match: 'internal_*', entity: 'secret' }] });

test('by key and by value, at any depth', () => {
  const doc = {
    user: { name: 'Ann', email: 'ann@example.com', password: 'pw', api_token: 'abc' },
    notes: ['call +1 415 555 2671', 'nothing here'],
    internal_ref: 'X-1',
    payment: { card: 4111111111111111, amount: 12.5 },
    ok: true,
    nothing: null,
  };
  const out = m.maskJson(doc);
  assert.deepEqual(out, {
    user: { name: 'Ann', email: '[EMAIL]', password: '[PASSWORD]', api_token: '[SECRET]' },
    notes: ['call [PHONE]', 'nothing here'],
    internal_ref: '[SECRET]',
    payment: { card: '[CARD]', amount: 12.5 },
    ok: true,
    nothing: null,
  });
  assert.equal(doc.user.password, 'pw', 'the input is not modified');
});

test('numbers and flags under built-in secret keys are facts, not secrets', () => {
  const doc = { password_attempts: 3, token_expired: true, ssn: 123456789 };
  assert.deepEqual(m.maskJson(doc), { password_attempts: 3, token_expired: true, ssn: '[SSN]' });
});

test('untouched documents and branches are returned as the same objects', () => {
  const clean = { a: [1, 2, { b: 'text' }], c: 'd' };
  assert.ok(m.maskJson(clean) === clean);
  const mixed = { keep: { x: 1 }, change: { e: 'x@example.com' } };
  const out = m.maskJson(mixed);
  assert.ok(out !== mixed);
  assert.ok(out.keep === mixed.keep);
});

test('scalars and arrays at the top level', () => {
  assert.equal(m.maskJson('x@example.com'), '[EMAIL]');
  assert.deepEqual(m.maskJson(['x@example.com', 1]), ['[EMAIL]', 1]);
  assert.equal(m.maskJson(42), 42);
});
