// The console's sessions table (src/gateway/console-sessions.ts) on real stores: 100,000
// sessions in SQLite (and a smaller set on the machine's Postgres), paged with a cursor
// (no gaps, no repeats, same order as a plain ORDER BY), each filter checked against what
// the rows hold, and a command-text search that names the matching event and treats
// quotes, % and _ as text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Insertable } from 'kysely';
import { openStore, type Store } from '../../src/store/index.ts';
import type { EventsTable, SessionsTable } from '../../src/store/schema.ts';
import { parseSessionQuery, sessionPage, QueryError } from '../../src/gateway/console-sessions.ts';
import { run } from '../helpers/clients.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const PROTOCOLS = ['postgres', 'mysql', 'ssh', 'http'];
const pgDb = `warden_console_${process.pid}`;
const dirs: string[] = [];
const stores: Store[] = [];

/** n sessions, one a minute; every 100th has two commands, whose text names it. */
async function fill(store: Store, n: number): Promise<void> {
  let seq = 0;
  for (let base = 0; base < n; base += 2000) {
    const sessions: Insertable<SessionsTable>[] = [];
    const events: Insertable<EventsTable>[] = [];
    for (let i = base; i < Math.min(n, base + 2000); i++) {
      const id = `s${String(i).padStart(6, '0')}`;
      sessions.push({
        id, connection: `db${i % 7}`, connection_type: 'postgres', protocol: PROTOCOLS[i % 4]!, identity_name: `user${i % 13}`,
        identity: '{}', client_addr: '127.0.0.1', started_at: new Date(T0 + i * 60_000).toISOString(), ended_at: null, end_reason: null, commands: i % 100 === 0 ? 2 : 0,
      });
      if (i % 100 === 0) {
        const text = i === 500 ? `SELECT '100% "quoted"' FROM orders_${i}` : `SELECT * FROM orders_${i}`;
        events.push({ seq: ++seq, ts: '', type: 'command', session_id: id, actor: null, data: JSON.stringify({ text: `BEGIN`, decision: 'allow' }), prev_hash: '', hash: `h${seq}` });
        events.push({ seq: ++seq, ts: '', type: 'command', session_id: id, actor: null, data: JSON.stringify({ text, decision: i % 300 === 0 ? 'review' : 'allow' }), prev_hash: '', hash: `h${seq}` });
      }
    }
    await store.db.transaction().execute(async (tx) => {
      await tx.insertInto('sessions').values(sessions).execute();
      if (events.length) await tx.insertInto('events').values(events).execute();
    });
  }
}

async function all(store: Store, q: Record<string, string>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const p: Awaited<ReturnType<typeof sessionPage>> = await sessionPage(store, parseSessionQuery({ ...q, ...(after ? { after } : {}) }));
    ids.push(...p.sessions.map((s) => s.id));
    after = p.next;
    pages++;
  } while (after && pages < 10_000);
  return { ids, pages };
}

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${pgDb}`]);
});
after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`]);
});

for (const kind of ['sqlite', 'postgres'] as const) {
  const n = kind === 'sqlite' ? 100_000 : 6_000;
  test(`${kind}: ${n} sessions paged by cursor and filtered`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-console-'));
    dirs.push(dir);
    const store = await openStore({ store: kind === 'sqlite' ? 'sqlite' : `postgres://postgres@127.0.0.1:5432/${pgDb}`, dataDir: dir });
    stores.push(store);
    await fill(store, n);

    // The first page: newest first.
    let t = performance.now();
    const first = await sessionPage(store, parseSessionQuery({ limit: '50' }));
    const firstMs = performance.now() - t;
    assert.equal(first.sessions.length, 50);
    assert.equal(first.sessions[0]!.id, `s${String(n - 1).padStart(6, '0')}`);
    assert.ok(first.next);
    // A page deep in the table, reached by its cursor, equals the plain query's rows there.
    let cursor: string | null = first.next;
    for (let i = 0; i < 20; i++) cursor = (await sessionPage(store, parseSessionQuery({ limit: '50', after: cursor! }))).next;
    t = performance.now();
    const deep = await sessionPage(store, parseSessionQuery({ limit: '50', after: cursor! }));
    const deepMs = performance.now() - t;
    const expected = await store.db.selectFrom('sessions').select('id').orderBy('started_at', 'desc').orderBy('id').offset(21 * 50).limit(50).execute();
    assert.deepEqual(deep.sessions.map((s) => s.id), expected.map((r) => r.id));

    // Filters: every row matches, and all matching rows come (paging through them).
    const byUser = await all(store, { limit: '500', identity: 'user3', protocol: 'ssh' });
    const want = await store.db.selectFrom('sessions').select('id').where('identity_name', '=', 'user3').where('protocol', '=', 'ssh').orderBy('started_at', 'desc').orderBy('id').execute();
    assert.deepEqual(byUser.ids, want.map((r) => r.id));
    assert.equal(new Set(byUser.ids).size, byUser.ids.length, 'no session twice');
    const window = await all(store, { limit: '100', connection: 'db2', from: new Date(T0 + 1000 * 60_000).toISOString(), to: new Date(T0 + 2000 * 60_000).toISOString() });
    const wantWindow = Array.from({ length: 1000 }, (_, k) => 1000 + k).filter((i) => i % 7 === 2).reverse().map((i) => `s${String(i).padStart(6, '0')}`);
    assert.deepEqual(window.ids, wantWindow);

    // Decision filter looks into the commands.
    const held = await all(store, { limit: '500', decision: 'review' });
    assert.deepEqual(held.ids, Array.from({ length: n }, (_, i) => i).filter((i) => i % 300 === 0).reverse().map((i) => `s${String(i).padStart(6, '0')}`));

    // Text search: the session and the seq of its matching command; case-insensitive.
    t = performance.now();
    const target = n - 100; // no other session's table name starts with its number
    const hit = await sessionPage(store, parseSessionQuery({ command: `from ORDERS_${target}` }));
    const searchMs = performance.now() - t;
    assert.deepEqual(hit.sessions.map((s) => s.id), [`s${String(target).padStart(6, '0')}`]);
    const ev = await store.db.selectFrom('events').select(['seq', 'data']).where('seq', '=', hit.sessions[0]!.matchSeq!).executeTakeFirstOrThrow();
    assert.match(ev.data, new RegExp(`orders_${target}"`));
    // quotes, % and _ are text, not patterns
    assert.deepEqual((await sessionPage(store, parseSessionQuery({ command: `'100% "quoted"'` }))).sessions.map((s) => s.id), ['s000500']);
    assert.deepEqual((await sessionPage(store, parseSessionQuery({ command: '100%' }))).sessions.map((s) => s.id), ['s000500']);
    assert.equal((await sessionPage(store, parseSessionQuery({ command: 'orders_4_00' }))).sessions.length, 0, '_ is no wildcard');
    assert.equal((await sessionPage(store, parseSessionQuery({ command: 'nothing like this' }))).sessions.length, 0);
    console.log(`# ${kind}, ${n} sessions: first page ${firstMs.toFixed(1)} ms, page 22 ${deepMs.toFixed(1)} ms, text search ${searchMs.toFixed(1)} ms`);
  });
}

test('bad queries are refused with the parameter named', () => {
  assert.throws(() => parseSessionQuery({ limit: '0' }), (e: Error) => e instanceof QueryError && /limit/.test(e.message));
  assert.throws(() => parseSessionQuery({ decision: 'maybe' }), /decision/);
  assert.throws(() => parseSessionQuery({ identity: ['a', 'b'] }), /identity/);
  assert.throws(() => parseSessionQuery({ command: 'x'.repeat(501) }), /command/);
});
