// Part 3 (opt-in, `--part pg`): the relay fuzz sessions through a real gateway to the real
// Postgres at 127.0.0.1:5432. Ground truth is the server's table: the policy reviews every
// DELETE and blocks TRUNCATE, so the table keeps its rows whatever the session did, and
// the gateway never answers with an internal error (XX000) or drops out of step.
import net from 'node:net';
import pg from 'pg';
import { startTestGateway, localPostgres, type TestGateway } from '../test/helpers/gateway.ts';
import { FrameSplitter } from '../src/protocols/postgres/frames.ts';
import { decodeBackend, encodeFrontend, encodeStartup, PROTOCOL_3 } from '../src/protocols/postgres/messages.ts';
import type { RelayCase } from './relay.ts';
import { Finding } from './codec.ts';

export interface Live {
  table: string;
  run(c: RelayCase): Promise<void>;
  close(): Promise<void>;
}

const ROWS = 3;

export async function startLive(): Promise<Live> {
  const table = `warden_fuzz_${process.pid}`;
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (x int); INSERT INTO ${table} SELECT g FROM generate_series(1, ${ROWS}) g`);
  const t: TestGateway = await startTestGateway({
    connections: [localPostgres('fuzz', { onUnknown: 'block' })],
    rules: [
      { name: 'hold-deletes', match: { kinds: ['delete'] }, action: 'review', review: { groups: ['dba'] } },
      { name: 'no-truncate', match: { kinds: ['truncate'] }, action: 'block' },
    ],
  });
  const token = await t.token(['dev'], 'fuzz');
  return {
    table,
    async run(c) {
      const answers: { type: number; code?: string; message?: string }[] = [];
      const socket = await session(t.pgPort, token, answers);
      try {
        for (const batch of c.batches) {
          for (const hex of batch) socket.write(Buffer.from(hex, 'hex'));
          await quiet(answers, 30);
          if (socket.destroyed) break;
        }
      } finally {
        socket.destroy();
      }
      for (const a of answers) {
        if (a.code === 'XX000') throw new Finding(`internal error to the client: ${a.message}`);
        if (!c.garbage && a.message?.includes('out of step')) throw new Finding(`desync with an honest server: ${a.message}`);
      }
      const n = Number((await admin.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
      if (n !== ROWS) {
        await admin.query(`TRUNCATE ${table}; INSERT INTO ${table} SELECT g FROM generate_series(1, ${ROWS}) g`);
        throw new Finding(`the table lost rows (${n} of ${ROWS}): a DELETE or TRUNCATE ran`);
      }
    },
    async close() {
      await t.close();
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    },
  };
}

/** A logged-in wire session; every answer's type (and an error's code and message) lands in `answers`. */
async function session(port: number, token: string, answers: { type: number; code?: string; message?: string }[]): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const split = new FrameSplitter(1 << 30);
  let ready: () => void;
  const up = new Promise<void>((resolve) => (ready = resolve));
  let loggedIn = false;
  socket.on('data', (d: Buffer) => {
    split.push(d, (type, buf, s, e) => {
      const m = decodeBackend(type, buf, s, e);
      if (!loggedIn) {
        if (m.type === 'Authentication' && m.code === 3) socket.write(encodeFrontend({ type: 'Password', data: Buffer.from(`${token}\0`) }));
        if (m.type === 'ReadyForQuery') {
          loggedIn = true;
          ready();
        }
        return;
      }
      answers.push(m.type === 'ErrorResponse' ? { type, code: m.fields.C, message: m.fields.M } : { type });
    });
  });
  socket.write(encodeStartup({ type: 'Startup', protocol: PROTOCOL_3, params: { user: 'fuzz', database: 'fuzz' } }));
  await up;
  return socket;
}

/** Wait until no answer came for `ms`. */
async function quiet(answers: unknown[], ms: number): Promise<void> {
  for (let n = -1; n !== answers.length; ) {
    n = answers.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
