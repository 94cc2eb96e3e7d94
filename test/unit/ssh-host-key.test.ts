// The gateway's SSH host key: ssh2's generator sometimes writes a key its own parser
// refuses (about 3 in 1000, measured); such a pair is never kept, so a first start does
// not fail on it, and what is kept reads back on the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { loadOrCreateHostKey } from '../../src/protocols/ssh/host-key.ts';

const good = () => ssh2.utils.generateKeyPairSync('ed25519', { comment: 'warden' });

test('a generated pair that does not read back is made again; the kept one parses and is read back the same on the next start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-hostkey-'));
  try {
    const real = good();
    // a key ssh2 cannot parse, as its generator sometimes makes
    const broken = { private: real.private.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA'), public: real.public };
    assert.ok(ssh2.utils.parseKey(broken.private) instanceof Error, 'the broken key is one ssh2 refuses');
    let calls = 0;
    const made = loadOrCreateHostKey(dir, () => (++calls === 1 ? broken : real));
    assert.equal(calls, 2);
    assert.equal(readFileSync(join(dir, 'ssh_host_ed25519_key'), 'utf8'), real.private);
    assert.ok(!(ssh2.utils.parseKey(made.private) instanceof Error));
    const again = loadOrCreateHostKey(dir, () => assert.fail('a kept key is read, not made'));
    assert.equal(again.public, made.public.split(' ').slice(0, 2).join(' ') + ' warden');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a generator that never makes a key that reads back fails the start with a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-hostkey-'));
  try {
    assert.throws(() => loadOrCreateHostKey(dir, () => ({ private: 'not a key', public: '' })), /could not make an SSH host key that reads back/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
