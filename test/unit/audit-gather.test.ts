// Group commit gathering: a durable batch waits for the sessions of the last one to
// have their next command queued (each commit costs one fsync, whatever it holds),
// but never when one session is all there is, nor for a session that went quiet
// more than once. The writer here is a stand-in whose commits the test completes by
// hand, so what each batch holds is the thing checked (the SQLite writer's own
// behaviour is covered by audit-chain.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommitLog } from '../../src/audit/log.ts';
import { HeadShipper } from '../../src/audit/ship.ts';
import type { BatchItem, BatchWritten } from '../../src/audit/chain.ts';
import type { ChainWriter } from '../../src/audit/writer.ts';
import type { Store } from '../../src/store/open.ts';

interface Call {
  sessions: (string | null)[];
  durable: boolean;
  done: () => void;
}

/** A writer whose every write waits until the test calls done(). */
function handWriter(): { writer: ChainWriter; calls: Call[] } {
  const calls: Call[] = [];
  let seq = 0;
  const writer: ChainWriter = {
    write: (items: BatchItem[], durable: boolean) =>
      new Promise<BatchWritten>((resolve) => {
        const first = seq + 1;
        seq += items.length;
        const n = calls.length + 1;
        calls.push({
          sessions: items.map((i) => i.sessionId),
          durable,
          done: () =>
            resolve({
              firstSeq: first,
              ts: new Date().toISOString(),
              prevHash: '0'.repeat(64),
              hashes: items.map(() => 'a'.repeat(64)),
              signed: { n, seq, hash: 'a'.repeat(64), ts: '', prev: '', kind: 'batch', keyId: 'k', signature: '' },
            }),
        });
      }),
    sign: async () => null,
    close: async () => {},
  };
  return { writer, calls };
}

function openLog(writer: ChainWriter, gatherMs: number): GroupCommitLog {
  return new GroupCommitLog({} as Store, writer, new HeadShipper([], { minGapMs: 1000 }), { dataDir: '/nonexistent', headIntervalMs: 3_600_000, verify: {}, onError: () => {}, gatherMs }, null);
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
const cmd = (sessionId: string) => ({ type: 'command', sessionId, actor: 'a', data: {} });
/** Complete a commit after `ms`: the log caps its wait at how long the last commit took. */
const finishAfter = async (c: Call, ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  c.done();
  await turns();
};

describe('audit group commit gathering', () => {
  it('a lone session never waits: its next command is committed at once', async () => {
    const { writer, calls } = handWriter();
    const log = openLog(writer, 60_000);
    const a1 = log.append(cmd('a'));
    await turns();
    assert.equal(calls.length, 1);
    await finishAfter(calls[0]!, 300);
    await a1;
    const a2 = log.append(cmd('a'));
    await turns();
    assert.deepEqual(calls.map((c) => c.sessions), [['a'], ['a']]);
    calls[1]!.done();
    await a2;
  });

  it('waits for every session of the last batch, then commits them together', async () => {
    const { writer, calls } = handWriter();
    const log = openLog(writer, 60_000);
    const first = [log.append(cmd('a')), log.append(cmd('b')), log.append(cmd('c'))];
    await turns();
    assert.deepEqual(calls.map((c) => c.sessions), [['a', 'b', 'c']]);
    await finishAfter(calls[0]!, 2000); // the wait is capped by this commit's time: 2 s, far longer than the turns below
    await Promise.all(first);
    const second = [log.append(cmd('b')), log.append(cmd('a'))];
    await turns(20);
    assert.equal(calls.length, 1, 'a batch started while session c of the last batch had not come back');
    second.push(log.append(cmd('c')));
    await turns();
    assert.deepEqual(calls.map((c) => c.sessions), [['a', 'b', 'c'], ['b', 'a', 'c']]);
    assert.equal(calls[1]!.durable, true);
    calls[1]!.done();
    await Promise.all(second);
  });

  it('commands queued during a commit count: the next batch takes them with the sessions coming back', async () => {
    const { writer, calls } = handWriter();
    const log = openLog(writer, 60_000);
    const p = [log.append(cmd('a')), log.append(cmd('b'))];
    await turns();
    p.push(log.append(cmd('c')), log.append(cmd('d'))); // queued while [a, b] commits
    await finishAfter(calls[0]!, 1500);
    assert.equal(calls.length, 1, 'c and d went alone though a and b were due back');
    p.push(log.append(cmd('a')), log.append(cmd('b')));
    await turns();
    assert.deepEqual(calls[1]!.sessions, ['c', 'd', 'a', 'b']);
    calls[1]!.done();
    await Promise.all(p);
  });

  it('a session that went quiet costs one bounded wait, not one per batch', async () => {
    const { writer, calls } = handWriter();
    const log = openLog(writer, 50);
    const p = [log.append(cmd('a')), log.append(cmd('quiet'))];
    await turns();
    await finishAfter(calls[0]!, 100);
    p.push(log.append(cmd('a')));
    // the wait (at most 50 ms) runs out, and a goes alone
    for (let i = 0; i < 200 && calls.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(calls[1]!.sessions, ['a']);
    await finishAfter(calls[1]!, 100);
    p.push(log.append(cmd('a')));
    await turns();
    assert.deepEqual(calls[2]!.sessions, ['a'], 'the quiet session was waited for again');
    calls[2]!.done();
    await Promise.all(p);
  });

  it('flush() does not wait for anyone', async () => {
    const { writer, calls } = handWriter();
    const log = openLog(writer, 60_000);
    const p = [log.append(cmd('a')), log.append(cmd('b'))];
    await turns();
    await finishAfter(calls[0]!, 1000);
    p.push(log.append(cmd('a')));
    const flushed = log.flush();
    await turns();
    assert.deepEqual(calls[1]!.sessions, ['a']);
    calls[1]!.done();
    await flushed;
    await Promise.all(p);
  });

  it('gatherMs 0 turns gathering off', async () => {
    const { writer, calls } = handWriter();
    const log = openLog(writer, 0);
    const p = [log.append(cmd('a')), log.append(cmd('b'))];
    await turns();
    await finishAfter(calls[0]!, 500);
    p.push(log.append(cmd('a')));
    await turns();
    assert.deepEqual(calls[1]!.sessions, ['a']);
    calls[1]!.done();
    await Promise.all(p);
  });
});
