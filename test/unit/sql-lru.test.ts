// The classification caches' LRU (src/sql/lru.ts): bounded, and an entry used since it
// aged past half the capacity survives the evictions that take entries nobody used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lru } from '../../src/sql/lru.ts';

test('an entry read after it aged is kept; the oldest unread one goes; the size stays bounded', () => {
  const lru = new Lru<string, number>(4);
  for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) lru.set(k, i);
  assert.equal(lru.get('a'), 0); // the oldest, read: moved to the young end
  lru.set('e', 4);
  assert.equal(lru.get('b'), undefined, 'b, never read, was the oldest');
  assert.equal(lru.get('a'), 0);
  for (const k of ['f', 'g', 'h']) lru.set(k, 0);
  assert.equal(lru.size, 4);
  assert.equal(lru.get('a'), undefined, 'a, not read again while four newer came, went too');
  assert.equal(lru.get('h'), 0);
});

test('reads of young entries do not reorder them, and a read never makes one younger than a newer insert', () => {
  const lru = new Lru<number, number>(100);
  for (let i = 0; i < 100; i++) lru.set(i, i);
  for (let r = 0; r < 1000; r++) assert.equal(lru.get(99), 99);
  for (let i = 100; i < 150; i++) lru.set(i, i); // 50 evictions: 0..49
  assert.equal(lru.get(0), undefined);
  assert.equal(lru.get(49), undefined);
  assert.equal(lru.get(50), 50);
  assert.equal(lru.get(99), 99);
  assert.equal(lru.size, 100);
  const zero = new Lru<number, number>(0);
  zero.set(1, 1);
  assert.equal(zero.get(1), undefined);
});
