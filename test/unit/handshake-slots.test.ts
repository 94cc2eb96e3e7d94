// The login slots every wire door takes (src/protocols/handshake-slots.ts): at most
// maxPending at once, each freed once (by its release or by its deadline, which also tells
// the door), so a slot is never counted twice nor lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeSlots } from '../../src/protocols/handshake-slots.ts';

test('at most maxPending slots; a release frees one, and a second release of it changes nothing', () => {
  const slots = new HandshakeSlots({ timeoutMs: 60_000, maxPending: 2 });
  const a = slots.take(() => assert.fail('no deadline here'))!;
  const b = slots.take(() => assert.fail('no deadline here'))!;
  assert.ok(a && b);
  assert.equal(slots.take(() => {}), null, 'the third is refused');
  assert.equal(slots.pending, 2);
  a.release();
  a.release();
  assert.equal(slots.pending, 1, 'released once');
  const c = slots.take(() => {})!;
  assert.ok(c, 'the freed slot is taken again');
  b.release();
  c.release();
  assert.equal(slots.pending, 0);
});

test('the deadline frees the slot before it tells the door, once; a release after it changes nothing', async () => {
  const slots = new HandshakeSlots({ timeoutMs: 20, maxPending: 1 });
  let told = 0;
  let pendingWhenTold = -1;
  const s = slots.take(() => {
    told++;
    pendingWhenTold = slots.pending;
  })!;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(told, 1);
  assert.equal(pendingWhenTold, 0, 'freed first');
  s.release();
  assert.equal(slots.pending, 0);
  assert.ok(slots.take(() => {}), 'the slot is free again');
});
