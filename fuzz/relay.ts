// Part 2: the relay's protocol state machine, client and server sides. The real
// PostgresRelay runs between a fake client socket and a model Postgres (mock-server.ts),
// with a spy policy in place of the session. Generated sessions: batches of Parse, Bind,
// Describe, Execute, Close, Sync, Flush, Query, FunctionCall, CopyData, Terminate over a
// few names and texts, sometimes mutated into garbage, cut at random chunk boundaries;
// sometimes the server's replies are mutated too. Properties:
// - nothing but a ProtocolError ends a session (no XX000 to the client, no "malformed"
//   target message, no exception escaping an event handler or a promise);
// - the server never parses a text the policy did not check, never runs one the policy
//   did not allow, and never receives a fast-path call no catalog names (mock-server.ts);
// - with an honest server: no desync, and every ReadyForQuery the server sent reaches
//   the client (no session left hanging).
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { PostgresRelay } from '../src/protocols/postgres/relay.ts';
import { FrameSplitter } from '../src/protocols/postgres/frames.ts';
import { decodeBackend, encodeFrontend, type FrontendMessage } from '../src/protocols/postgres/messages.ts';
import type { Session } from '../src/session/session.ts';
import type { Command, Decision } from '../src/session/types.ts';
import { compileMasker } from '../src/masking/index.ts';
import { Rng } from './rng.ts';
import { chunk, mutate } from './mutate.ts';
import { MockServer, type Judged } from './mock-server.ts';
import { Finding } from './codec.ts';

export interface RelayCase {
  part: 'relay';
  seed: number;
  /** the server's replies are mutated (seeded by `seed`) */
  hostile: boolean;
  /** some client bytes are not well-formed messages */
  garbage: boolean;
  /** results are masked (a rule on the result column, detectors on the rest) */
  masking?: boolean;
  /** client writes, hex per chunk, grouped in batches; the harness lets the session settle between batches */
  batches: string[][];
}

const NAMES = ['', 'a', 'b'];
const texts = (t: string) => ['SELECT 1', 'SELECT 2', `DELETE FROM ${t}`, `TRUNCATE ${t}`, 'SELEC', 'BEGIN', 'COMMIT', 'ROLLBACK', '', "SELECT 'a\\b'", `UPDATE ${t} SET x = 1`];

function clientMessage(r: Rng, TEXTS: string[]): FrontendMessage {
  const name = () => r.pick(NAMES);
  switch (r.int(16)) {
    case 0: case 1: return { type: 'Parse', name: name(), text: r.pick(TEXTS), paramTypes: [] };
    case 2: case 3: return { type: 'Bind', portal: name(), statement: name(), paramFormats: [], params: r.chance(0.2) ? [Buffer.from('p')] : [], resultFormats: [] };
    case 4: return { type: 'Describe', target: r.pick(['S', 'P'] as const), name: name() };
    case 5: case 6: return { type: 'Execute', portal: name(), maxRows: r.pick([0, 0, 1]) };
    case 7: return { type: 'Close', target: r.pick(['S', 'P'] as const), name: name() };
    case 8: case 9: case 10: return { type: 'Sync' };
    case 11: return { type: 'Flush' };
    case 12: case 13: return { type: 'Query', text: r.pick(TEXTS) };
    case 14: return { type: 'FunctionCall', oid: r.pick([1, 2, 0xffffffff]), argFormats: [], args: [], resultFormat: 0 };
    default: return { type: 'CopyData', data: r.bytes(r.small(4)) };
  }
}

/** `table`: the table the statements name (a real one when the case runs against Postgres). */
export function genRelayCase(seed: number, table = 't'): RelayCase {
  const r = new Rng(seed);
  const TEXTS = texts(table);
  const hostile = r.chance(0.2);
  const garbage = r.chance(0.2);
  const masking = r.chance(0.5);
  const batches: string[][] = [];
  for (let b = r.range(1, 8); b > 0; b--) {
    let frames = Array.from({ length: r.range(1, 8) }, () => encodeFrontend(clientMessage(r, TEXTS)));
    if (garbage && r.chance(0.5)) frames = mutate(frames, r, r.range(1, 2));
    // a batch mostly ends where a client waits (Sync or Query); pipelines run on
    if (r.chance(0.7)) frames.push(encodeFrontend({ type: 'Sync' }));
    batches.push(chunk(Buffer.concat(frames), r).map((x) => x.toString('hex')));
  }
  if (r.chance(0.1)) batches.push([encodeFrontend({ type: 'Terminate' }).toString('hex')]);
  return { part: 'relay', seed, hostile, garbage, masking, batches };
}

/** A socket as the relay uses one: events in, writes out. */
class FakeSocket extends EventEmitter {
  writable = true;
  writableNeedDrain = false;
  private paused = false;
  constructor(private readonly sink: (b: Buffer) => void) {
    super();
  }
  write(b: Buffer): boolean {
    if (this.writable) this.sink(Buffer.from(b));
    return true;
  }
  pause(): this { this.paused = true; return this; }
  resume(): this { this.paused = false; return this; }
  isPaused(): boolean { return this.paused; }
  cork(): void {}
  uncork(): void {}
  end(): void { this.writable = false; }
  destroy(): void { this.writable = false; }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runRelayCase(c: RelayCase): Promise<void> {
  const findings: unknown[] = [];
  const judged: Judged = { checked: new Set(), allowed: new Set() };
  let activity = 0;
  let ids = 0;
  const session = {
    masker: c.masking ? compileMasker({ hmacKey: 'k'.repeat(32), columns: [{ match: 'x' }] }) : null,
    async check(cmd: Command): Promise<Decision | null> {
      judged.checked.add(cmd.text);
      return /TRUNCATE/.test(cmd.text) ? { action: 'block', commandId: `c${++ids}`, reason: 'no truncate' } : null;
    },
    async command(cmd: Command): Promise<Decision> {
      if (cmd.opaque !== undefined || /DELETE|TRUNCATE/.test(cmd.text)) return { action: 'block', commandId: `c${++ids}`, reason: 'refused' };
      judged.allowed.add(cmd.text);
      return { action: 'allow', commandId: `c${++ids}` };
    },
    result(): void {},
  } as unknown as Session;

  const toClient: Buffer[] = [];
  const client = new FakeSocket((b) => { activity++; toClient.push(b); });
  // eslint-disable-next-line prefer-const
  let server: FakeSocket;
  const mock = new MockServer(judged, (b) => {
    setImmediate(() => {
      activity++;
      try {
        server.emit('data', b);
        if (mock.gone) server.emit('close');
      } catch (e) {
        findings.push(e);
      }
    });
  }, c.hostile ? new Rng(c.seed ^ 0x5eed) : null);
  server = new FakeSocket((b) => {
    activity++;
    setImmediate(() => {
      try {
        mock.receive(b);
      } catch (e) {
        findings.push(e);
      }
    });
  });
  let closedWhy: string | null = null;
  const relay = new PostgresRelay(client as unknown as Duplex, server as unknown as Duplex, session, {
    maxMessageBytes: 1 << 16,
    limits: { maxRows: 10, maxBytes: 10_000 },
    onClose: (why) => (closedWhy = why),
  });
  relay.start(null);

  const settle = async () => {
    for (let quiet = 0, n = 0; quiet < 3; n++) {
      const a = activity;
      await turn();
      quiet = a === activity ? quiet + 1 : 0;
      if (n > 5000) throw new Finding('the session never settled (still busy after 5000 turns)');
    }
  };
  for (const batch of c.batches) {
    for (const hex of batch) {
      const b = Buffer.from(hex, 'hex');
      activity++;
      try {
        client.emit('data', b);
      } catch (e) {
        findings.push(e);
      }
      await turn();
    }
    await settle();
    if (findings.length) throw findings[0];
    if (closedWhy) break;
  }
  if (!closedWhy) client.emit('close');
  await settle();
  if (findings.length) throw findings[0];

  // What the client got: no internal error, and (honest server, clean client) an answer to each Sync.
  let ready = 0;
  const got = new FrameSplitter(1 << 30);
  for (const b of toClient) {
    got.push(b, (type, buf, s, e) => {
      if (type === 0x5a) ready++;
      if (type !== 0x45) return;
      const m = decodeBackend(type, buf, s, e);
      if (m.type === 'ErrorResponse' && m.fields.C === 'XX000') throw new Finding(`internal error to the client: ${m.fields.M}`);
    });
  }
  const why = closedWhy as string | null;
  if (why?.includes('malformed message')) throw new Finding(`the relay broke on a server message: ${why}`);
  if (!c.hostile && why?.includes('out of step')) throw new Finding(`desync with an honest server: ${why}`);
  // (a client that sent Terminate does not wait for answers still on their way)
  const endedEarly = why !== null && why !== 'client disconnected';
  if (!c.hostile && !endedEarly && ready !== mock.readySent) throw new Finding(`left hanging: ${ready} of the server's ${mock.readySent} ReadyForQuery reached the client`);
}
