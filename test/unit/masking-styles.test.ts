// The three styles, per entity: full redaction, partial forms, keyed hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';

const KEY = 'a-test-key-of-32-characters-long';

test('redact: [LABEL] per entity; custom entities use their name', () => {
  const m = compileMasker({ custom: [{ name: 'employee_id', regex: 'EMP-\\d{6}' }] });
  assert.equal(m.maskText('EMP-123456 mailed a@example.com'), '[EMPLOYEE_ID] mailed [EMAIL]');
});

test('partial: recognisable, not revealing', () => {
  const m = compileMasker({ style: 'partial' });
  const cases: [string, string][] = [
    ['john.doe@example.com', 'j***@example.com'],
    ['4242 4242 4242 4242', '****4242'],
    ['123-45-6789', '***-**-6789'],
    ['+1 (415) 555-2671', '+* (***) ***-2671'],
    ['DE89 3704 0044 0532 0130 00', 'DE** **** **** **** **30 00'],
    ['192.168.1.20', '192.*.*.*'],
    [`ghp_${'a1B2'.repeat(9)}`, 'ghp_****'],
    ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_****'],
    ['AKIAIOSFODNN7EXAMPLE', 'AKIA****'],
    ['postgres://u:pw@h/db', 'postgres://u:****@h/db'],
  ];
  for (const [input, want] of cases) assert.equal(m.maskText(input), want, input);
});

test('per-entity styles override the default style', () => {
  const m = compileMasker({ style: 'redact', styles: { email: 'partial' } });
  assert.equal(m.maskText('a@example.com 123-45-6789'), 'a***@example.com [SSN]');
});

test('hash: stable under one key, normalised, different under another key', () => {
  const m = compileMasker({ style: 'hash', hmacKey: KEY });
  const a = m.maskText('4242 4242 4242 4242');
  assert.match(a, /^\[CARD:[0-9a-f]{16}\]$/);
  assert.equal(m.maskText('4242-4242-4242-4242'), a, 'separators do not change the hash');
  assert.equal(compileMasker({ style: 'hash', hmacKey: KEY }).maskText('4242424242424242'), a, 'another masker, same key');
  assert.notEqual(compileMasker({ style: 'hash', hmacKey: `${KEY}x` }).maskText('4242424242424242'), a);
  assert.notEqual(m.maskText('4111 1111 1111 1111'), a, 'another value');
});

test('hash without a configured key: a key from the options, else random per masker', () => {
  const k = Buffer.alloc(32, 7);
  assert.equal(compileMasker({ style: 'hash' }, { hmacKey: k }).maskText('a@b.io'), compileMasker({ style: 'hash' }, { hmacKey: k }).maskText('a@b.io'));
  assert.notEqual(compileMasker({ style: 'hash' }).maskText('a@b.io'), compileMasker({ style: 'hash' }).maskText('a@b.io'));
});

test('custom entities: regex and deny-list, whole words, case rules', () => {
  const m = compileMasker({
    custom: [
      { name: 'project', denyList: ['Bluebird', 'Night Jar'] },
      { name: 'case_ref', regex: 'CASE-[0-9]{4}', caseSensitive: true, style: 'partial' },
    ],
  });
  assert.equal(m.maskText('bluebird and NIGHT JAR, not Bluebirds'), '[PROJECT] and [PROJECT], not Bluebirds');
  assert.equal(m.maskText('CASE-1234 case-1234'), 'C*** case-1234');
});

test('entities and groups narrow what is detected', () => {
  const secretsOnly = compileMasker({ entities: ['secrets'] });
  assert.equal(secretsOnly.maskText('a@example.com password=x'), 'a@example.com password=[PASSWORD]');
  const presidio = compileMasker({ entities: ['EMAIL_ADDRESS', 'CREDIT_CARD'] });
  assert.equal(presidio.maskText('a@example.com 4242424242424242 123-45-6789'), '[EMAIL] [CARD] 123-45-6789');
});
