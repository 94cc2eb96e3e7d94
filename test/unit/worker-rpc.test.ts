// A data-plane worker's calls to the main thread (src/gateway/workers/rpc.ts): answers find
// their callers by id, and a client that gives up on a review's wait is told to the main
// thread after the call's own message, even when it gave up before the wait began (its
// command was cancelled while the hold itself was on its way back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deskOver, RpcClient } from '../../src/gateway/workers/rpc.ts';
import type { FromWorker } from '../../src/gateway/workers/messages.ts';
import type { HoldRequest } from '../../src/reviews/desk.ts';

const req = { connection: 'w', command: { text: 'DELETE FROM t' } } as unknown as HoldRequest;

function wire() {
  const sent: FromWorker[] = [];
  const rpc = new RpcClient((m) => sent.push(m));
  return { sent, rpc, desk: deskOver(rpc, (m) => sent.push(m)) };
}

test('answers reach their own calls; an error answer rejects with its message', async () => {
  const { sent, rpc } = wire();
  const a = rpc.call<string>({ op: 'activeGrant', identity: {}, connection: 'w' });
  const b = rpc.call<string>({ op: 'activeGrant', identity: {}, connection: 'x' });
  const [ida, idb] = sent.map((m) => (m as { id: number }).id);
  rpc.answer({ t: 'reply', id: idb!, ok: false, message: 'no such grant' });
  rpc.answer({ t: 'reply', id: ida!, ok: true, value: 'g1' });
  assert.equal(await a, 'g1');
  await assert.rejects(b, /no such grant/);
});

test('a wait whose client already gave up is aborted right after the call goes out', () => {
  const { sent, desk } = wire();
  const ac = new AbortController();
  ac.abort();
  void desk.awaitApproval(req, 'r1', 30_000, ac.signal);
  assert.deepEqual(sent.map((m) => m.t), ['rpc', 'abort']);
  assert.equal((sent[1] as { id: number }).id, (sent[0] as { id: number }).id);
});

test('a wait the client gives up later is aborted then; one nobody gives up is not', () => {
  const { sent, desk } = wire();
  const ac = new AbortController();
  void desk.awaitApproval(req, 'r1', 30_000, ac.signal);
  void desk.awaitApproval(req, 'r2', 30_000, new AbortController().signal);
  assert.deepEqual(sent.map((m) => m.t), ['rpc', 'rpc']);
  ac.abort();
  assert.deepEqual(sent.map((m) => m.t), ['rpc', 'rpc', 'abort']);
  assert.equal((sent[2] as { id: number }).id, (sent[0] as { id: number }).id);
});
