// What the doors' denial-of-service tests ask of a gateway from outside: a metric's value
// as /metrics reads it, a wait for a condition, and whether the gateway closed a raw socket
// in time (a connection it keeps open fails the test, never hangs it).
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { TestGateway } from './gateway.ts';

/** A plain socket to a door on 127.0.0.1, connected; `closed` resolves when the gateway closes it. */
export async function rawSocket(port: number): Promise<{ socket: net.Socket; closed: Promise<unknown> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  return { socket, closed };
}

/** `p`, or a failure naming `what` after `ms`. */
export async function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A sample of `name` with exactly these labels (`frontDoor="mysql",reason="..."`; '' for none); 0 when absent. */
export async function metricValue(t: TestGateway, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Polls `cond` every 50 ms for up to 15 s. */
export async function waitFor(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Resolves when the gateway closed the socket (`closed`: its close event); fails after `ms`. */
export async function closedWithin(r: { closed: Promise<unknown> }, ms = 15_000): Promise<void> {
  await within(r.closed, 'the gateway kept the connection open', ms);
}
