// The stream masker: whatever the chunking, the output equals masking the whole text at
// once, so no secret slips through a chunk boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';

const m = compileMasker({ hmacKey: 'k'.repeat(32) });

const TEXT = [
  '$ psql "postgres://app:s3cr3t-pw@db.internal:5432/app"\n',
  'id | email             | card\n',
  ' 1 | ann@example.com   | 4111 1111 1111 1111\n',
  'export GITHUB_TOKEN=ghp_' + 'a1B2'.repeat(9) + '\n',
  'AWS: AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n',
  'jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n',
  '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oyP\nAwEHoUQDQgAE\n-----END EC PRIVATE KEY-----\n',
  'password=hunter2 ssn 123-45-6789 ip 10.1.2.3 done',
].join('');

function streamed(chunks: string[]): string {
  const s = m.createStreamMasker();
  let out = '';
  for (const c of chunks) out += s.push(c);
  return out + s.end();
}

test('the reference: the whole text masked at once hides every secret', () => {
  const once = m.maskText(TEXT);
  for (const secret of ['s3cr3t-pw', 'ann@example.com', '4111 1111', 'ghp_', 'AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI', 'eyJhbGci', 'MHcCAQEE', 'hunter2', '123-45-6789', '10.1.2.3']) {
    assert.ok(!once.includes(secret), `${secret} in ${once}`);
  }
});

test('split into two chunks at every position: same output as all at once', () => {
  const once = m.maskText(TEXT);
  for (let i = 0; i <= TEXT.length; i++) assert.equal(streamed([TEXT.slice(0, i), TEXT.slice(i)]), once, `split at ${i}`);
});

test('split into three chunks around every secret', () => {
  const once = m.maskText(TEXT);
  const line = TEXT.indexOf('export');
  for (let i = line; i < line + 70; i++) {
    for (let j = i; j < line + 70; j += 3) assert.equal(streamed([TEXT.slice(0, i), TEXT.slice(i, j), TEXT.slice(j)]), once, `split at ${i},${j}`);
  }
});

test('one character at a time', () => {
  assert.equal(streamed([...TEXT]), m.maskText(TEXT));
});

test('whole lines are sent at once; a partial line waits for its end (or flush)', () => {
  const s = m.createStreamMasker();
  assert.equal(s.push('mail a@example.com\nand b@exa'), 'mail [EMAIL]\n');
  assert.equal(s.push('mple.com'), '');
  assert.equal(s.flush(), 'and [EMAIL]');
  assert.equal(s.end(), '');
});

test('a line longer than maxHold is cut, never inside a finding', () => {
  const s = m.createStreamMasker({ maxHold: 64 });
  const long = `${'x '.repeat(40)}card 4111 1111 1111 1111 ${'y '.repeat(40)}`;
  let out = '';
  for (const ch of long) out += s.push(ch);
  assert.ok(out.length > 0, 'something was sent before the end');
  out += s.end();
  assert.equal(out, m.maskText(long));
});

test('a private key longer than the PEM hold is still redacted as it streams', () => {
  const s = m.createStreamMasker({ maxPemHold: 256 });
  const body = Array.from({ length: 40 }, (_, i) => `MIIEv${String(i).padStart(3, '0')}${'Q'.repeat(56)}`).join('\n');
  const text = `before\n-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\nafter\n`;
  let out = '';
  for (let i = 0; i < text.length; i += 50) out += s.push(text.slice(i, i + 50));
  out += s.end();
  assert.ok(!out.includes('MIIEv'), out);
  assert.ok(out.startsWith('before\n'), out);
  assert.ok(out.includes('[PRIVATE_KEY]'));
  assert.ok(out.endsWith('after\n'), out);
});

test('an endless line of one secret does not grow the held text without bound', () => {
  const s = m.createStreamMasker({ maxHold: 256 });
  let out = s.push('token=');
  for (let i = 0; i < 200; i++) out += s.push('aB3dE5gH7jK9'.repeat(10));
  out += s.end();
  assert.ok(out.length > 0 && out.length < 200 * 120, `${out.length}`);
  assert.ok(out.startsWith('token=[SECRET]'), out.slice(0, 40));
});

test('a stream masker tells whether it replaced anything (held text alone is not a change)', () => {
  const m = compileMasker({ hmacKey: 'k'.repeat(32) });
  const clean = m.createStreamMasker();
  clean.push('no secrets here, and a line held ');
  clean.push('back for a while\n');
  clean.end();
  assert.equal(clean.masked, false);
  const dirty = m.createStreamMasker();
  dirty.push('write to ada@exa');
  assert.equal(dirty.masked, false);
  assert.doesNotMatch(dirty.push('mple.com today\n') + dirty.end(), /ada@/);
  assert.equal(dirty.masked, true);
});
