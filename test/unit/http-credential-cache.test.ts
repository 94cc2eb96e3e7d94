// The minted-token cache on a clock the test moves: one fetch for concurrent callers, the
// token reused until its refresh point, refreshed behind a still-valid token, waited for once
// expired, and a failed fetch never cached. And the token answer's expiry rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache, type Minted } from '../../src/protocols/http/credentials/cache.ts';
import { tokenFrom, CredentialError } from '../../src/protocols/http/credentials/token-endpoint.ts';

/** A mint the test settles by hand, counting calls. */
function manualMint() {
  const pending: { resolve: (m: Minted) => void; reject: (e: Error) => void }[] = [];
  const mint = () => new Promise<Minted>((resolve, reject) => pending.push({ resolve, reject }));
  return { mint, pending };
}

test('concurrent callers share one fetch; the token is reused until its refresh point', async () => {
  let now = 0;
  const m = manualMint();
  const cache = new TokenCache(m.mint, () => now);
  const all = Promise.all([cache.get(), cache.get(), cache.get()]);
  assert.equal(m.pending.length, 1);
  m.pending[0]!.resolve({ value: 'a', expiresAt: 1_000_000 });
  assert.deepEqual(await all, ['a', 'a', 'a']);
  // a 1000 s token refreshes 60 s before it ends
  now = 939_000;
  assert.equal(await cache.get(), 'a');
  assert.equal(m.pending.length, 1);
});

test('in its last stretch the old token still goes out while one refresh runs; then the new one', async () => {
  let now = 0;
  const m = manualMint();
  const cache = new TokenCache(m.mint, () => now);
  const first = cache.get();
  m.pending[0]!.resolve({ value: 'a', expiresAt: 100_000 });
  await first;
  now = 90_000; // past the refresh point (a quarter of a 100 s life before the end), not expired
  assert.equal(await cache.get(), 'a');
  assert.equal(await cache.get(), 'a');
  assert.equal(m.pending.length, 2, 'one refresh for both');
  m.pending[1]!.resolve({ value: 'b', expiresAt: 200_000 });
  await new Promise((r) => setImmediate(r));
  assert.equal(await cache.get(), 'b');
});

test('an expired token is not sent: callers wait for the new one', async () => {
  let now = 0;
  const m = manualMint();
  const cache = new TokenCache(m.mint, () => now);
  const first = cache.get();
  m.pending[0]!.resolve({ value: 'a', expiresAt: 10_000 });
  await first;
  now = 10_000;
  const waiting = cache.get();
  assert.equal(m.pending.length, 2);
  m.pending[1]!.resolve({ value: 'b', expiresAt: 20_000 });
  assert.equal(await waiting, 'b');
});

test('a failed fetch reaches every caller waiting on it and is not cached: the next call fetches again', async () => {
  const m = manualMint();
  const cache = new TokenCache(m.mint, () => 0);
  const a = cache.get();
  const b = cache.get();
  m.pending[0]!.reject(new CredentialError('the token endpoint answered 500'));
  await assert.rejects(a, /answered 500/);
  await assert.rejects(b, /answered 500/);
  const c = cache.get();
  assert.equal(m.pending.length, 2);
  m.pending[1]!.resolve({ value: 'ok', expiresAt: 60_000 });
  assert.equal(await c, 'ok');
});

test('a refresh that fails behind a valid token is kept from callers; tried again after a pause', async () => {
  let now = 0;
  const m = manualMint();
  const cache = new TokenCache(m.mint, () => now);
  const first = cache.get();
  m.pending[0]!.resolve({ value: 'a', expiresAt: 400_000 });
  await first;
  now = 350_000;
  assert.equal(await cache.get(), 'a');
  m.pending[1]!.reject(new CredentialError('down'));
  await new Promise((r) => setImmediate(r));
  assert.equal(await cache.get(), 'a', 'the old token still goes out');
  assert.equal(m.pending.length, 2, 'no new fetch right after a failure');
  now = 356_000;
  assert.equal(await cache.get(), 'a');
  assert.equal(m.pending.length, 3, 'tried again after the pause');
});

test('a token answer: expires_in, else a JWT exp, else a short default; no usable token or another type refused', () => {
  assert.equal(tokenFrom({ access_token: 't', token_type: 'Bearer', expires_in: 3600 }, 'access_token', 1000).expiresAt, 1000 + 3_600_000);
  assert.equal(tokenFrom({ access_token: 't', expires_in: '60' }, 'access_token', 0).expiresAt, 60_000, 'a number sent as a string');
  const jwt = ['{"alg":"RS256"}', '{"exp":2000}'].map((s) => Buffer.from(s).toString('base64url')).join('.') + '.sig';
  assert.equal(tokenFrom({ id_token: jwt }, 'id_token', 0).expiresAt, 2_000_000);
  assert.equal(tokenFrom({ access_token: 'opaque' }, 'access_token', 0).expiresAt, 300_000);
  assert.throws(() => tokenFrom({ access_token: 'a\r\nx-evil: 1' }, 'access_token'), CredentialError);
  assert.throws(() => tokenFrom({ id_token: jwt }, 'access_token'), /no usable access_token/);
  assert.throws(() => tokenFrom({ access_token: 't', token_type: 'DPoP' }, 'access_token'), /type "DPoP"/);
});
