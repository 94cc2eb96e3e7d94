// Flow control and heartbeats of the tunnel, over a real WebSocket pair on loopback:
// a stream whose reader stalls stops its sender without growing memory, and the other
// streams of the same tunnel keep flowing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { Tunnel } from '../../src/tunnel/tunnel.ts';
import { FrameType, decodeFrames, encodeFrame, windowPayload } from '../../src/tunnel/frames.ts';
import { DEFAULT_WINDOW, type TunnelStream } from '../../src/tunnel/stream.ts';

const servers: WebSocketServer[] = [];
after(() => servers.forEach((s) => s.close()));

/** A gateway-end and an agent-end Tunnel joined by a loopback WebSocket. */
async function pair(onOpen: (s: TunnelStream, target: { host: string; port: number }) => void, opts: { heartbeatMs?: number; answer?: boolean } = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await once(client, 'open');
  const [serverWs] = await accepted;
  const hb = opts.heartbeatMs ?? 60_000;
  const gateway = new Tunnel(serverWs, { peer: 'agent "t"', heartbeatMs: hb, maxMissed: 3 });
  // answer: false leaves the agent end deaf (no Tunnel), to test missed heartbeats.
  const agent = opts.answer === false ? null : new Tunnel(client, { peer: 'gateway', heartbeatMs: 60_000, maxMissed: 3, onOpen });
  return { gateway, agent, client, serverWs };
}

const chunk = Buffer.alloc(16 * 1024, 0x61);

test('a stalled reader stops its sender at the window; other streams keep flowing', async () => {
  const agentEnds = new Map<number, TunnelStream>();
  let blockedWrites = 0;
  const { gateway, agent, client } = await pair((s, target) => {
    agentEnds.set(target.port, s);
    agent!.frame(2 /* OPENED */, s.id);
    if (target.port === 1) {
      // A firehose: write until the stream pushes back, like a socket being piped in.
      const pump = () => {
        while (s.write(chunk));
        blockedWrites++;
      };
      s.on('drain', pump);
      pump();
    } else s.pipe(s); // echo
  });
  const slow = await gateway.openStream('db', 1, 5000);
  slow.pause(); // the client stopped reading
  const fast = await gateway.openStream('db', 2, 5000);

  // Let the firehose run into the window.
  const firehose = agentEnds.get(1)!;
  const deadline = Date.now() + 5000;
  while (firehose.sendCredit > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(firehose.sendCredit, 0, 'the sender ran out of credit');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(slow.readableLength <= DEFAULT_WINDOW + 64 * 1024, `receiver holds ${slow.readableLength} bytes, at most one window + its high-water mark`);
  assert.ok(firehose.writableLength <= 64 * 1024 + chunk.length, `sender buffers ${firehose.writableLength} bytes, bounded by its high-water mark`);
  assert.ok(blockedWrites >= 1, 'write() returned false to the source');

  // Meanwhile another stream on the same tunnel round-trips freely.
  for (let i = 0; i < 20; i++) {
    const msg = Buffer.from(`ping ${i}`);
    fast.write(msg);
    const [echo] = (await once(fast, 'data')) as [Buffer];
    assert.equal(echo.toString(), msg.toString());
  }

  // The reader resumes: credit flows back and the firehose goes on past the window.
  let got = 0;
  slow.on('data', (d: Buffer) => (got += d.length));
  slow.resume();
  while (got < 4 * DEFAULT_WINDOW && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 10));
  assert.ok(got >= 4 * DEFAULT_WINDOW, `received ${got} bytes after resuming`);
  gateway.close('test over');
  client.terminate();
});

test('half-close and clean end: both directions finish and the stream ids are dropped', async () => {
  const { gateway, agent, client } = await pair((s) => {
    agent!.frame(2, s.id);
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => s.end(Buffer.concat(parts).toString().toUpperCase()));
  });
  const s = await gateway.openStream('db', 5, 5000);
  s.end('shout this');
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  await once(s, 'close');
  assert.equal(Buffer.concat(parts).toString(), 'SHOUT THIS');
  assert.equal(gateway.openStreams, 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(agent!.openStreams, 0);
  gateway.close('test over');
  client.terminate();
});

test('a refused dial and a lost tunnel fail streams with reasons naming the peer', async () => {
  const { gateway, agent, client } = await pair((s, target) => {
    if (target.port === 9) s.destroy(new Error('cannot connect to db:9: ECONNREFUSED'));
    else agent!.frame(2, s.id);
  });
  await assert.rejects(gateway.openStream('db', 9, 5000), /cannot connect to db:9: ECONNREFUSED/);
  const s = await gateway.openStream('db', 10, 5000);
  const failed = once(s, 'error');
  client.terminate(); // the agent process dies
  const [err] = (await failed) as [Error];
  assert.match(err.message, /agent "t" disconnected/);
  assert.equal(gateway.closed, true);
  await assert.rejects(gateway.openStream('db', 10, 5000), /agent "t" disconnected/);
});

test('a peer that stops answering heartbeats is dropped', async () => {
  const { gateway, client } = await pair(() => {}, { heartbeatMs: 30, answer: false });
  const [reason] = (await once(gateway, 'close')) as [string];
  assert.match(reason, /no answer to 3 heartbeats/);
  client.terminate();
});

test('a slow agent that grants credit but does not read: the gateway stops at the WebSocket\'s bound, not at the credit', async () => {
  // The "agent" is a bare WebSocket: it opens the stream, grants 2 GiB of credit at once
  // (more than any window), then stops reading its socket.
  const { gateway, client, serverWs } = await pair(() => {}, { answer: false });
  client.on('message', (data: Buffer) => {
    decodeFrames(data, (f) => {
      if (f.type !== FrameType.OPEN) return;
      client.send(Buffer.concat([encodeFrame(FrameType.OPENED, f.stream), encodeFrame(FrameType.WINDOW, f.stream, windowPayload(0x7fffffff))]), () => client.pause());
    });
  });
  const s = await gateway.openStream('db', 7, 5000);
  await new Promise((r) => setTimeout(r, 50)); // the grant has arrived
  const big = Buffer.alloc(64 * 1024, 0x62);
  let written = 0;
  let pushedBack = false;
  for (let i = 0; i < 512 && !pushedBack; i++) {
    pushedBack = !s.write(big);
    written += big.length;
    if (i % 16 === 15) await new Promise((r) => setImmediate(r)); // let batches flush
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(pushedBack, `write() never pushed back after ${written} bytes`);
  // The bound is 1 MiB waiting in the WebSocket, plus one batch on its way in.
  assert.ok(serverWs.bufferedAmount <= 2 * 1024 * 1024, `the WebSocket holds ${serverWs.bufferedAmount} bytes waiting`);
  // The agent reads again: the held bytes go out and the source may write again.
  const drained = once(s, 'drain');
  let got = 0;
  client.on('message', (d: Buffer) => (got += d.length));
  client.resume();
  await drained;
  assert.ok(got > 0);
  gateway.close('test over');
  client.terminate();
});
