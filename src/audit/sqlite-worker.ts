// The SQLite audit writer thread. better-sqlite3 is synchronous and a durable commit
// waits for fsync, so the writes happen here, on this thread's own connection, while
// the main thread keeps serving sockets. One message = one batch = one transaction.
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { sqlitePragmas } from '../store/sqlite-pragmas.ts';
import { type BatchItem, type ChainHead, chainBatch, written } from './chain.ts';
import { appendCheckpoints, type Checkpoint } from './checkpoint-file.ts';
import { fromPem, makeSigner } from './keys.ts';
import type { WriterConfig } from './writer.ts';

export type WorkerRequest =
  | { id: number; op: 'write'; items: BatchItem[]; durable: boolean }
  | { id: number; op: 'checkpoint' }
  | { id: number; op: 'head' }
  | { id: number; op: 'close' };

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; code?: string };

const cfg = workerData as WriterConfig & { file: string };
const db = new BetterSqlite3(cfg.file);
sqlitePragmas(db);
const sign = makeSigner(fromPem(cfg.privatePem));

const st = {
  head: db.prepare<[], ChainHead>('SELECT seq, hash FROM chain_head WHERE id = 1'),
  setHead: db.prepare('UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1'),
  event: db.prepare('INSERT INTO events (seq, ts, type, session_id, actor, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
  start: db.prepare(
    `INSERT INTO sessions (id, connection, connection_type, protocol, identity_name, identity, client_addr, started_at, commands, ended_at, end_reason)
     VALUES (@id, @connection, @connection_type, @protocol, @identity_name, @identity, @client_addr, @started_at, @commands, @ended_at, @end_reason)
     ON CONFLICT (id) DO NOTHING`,
  ),
  update: db.prepare(
    `UPDATE sessions SET commands = commands + @commands, ended_at = coalesce(@ended_at, ended_at),
     end_reason = coalesce(@end_reason, end_reason) WHERE id = @id`,
  ),
  checkpoint: db.prepare('INSERT INTO checkpoints (seq, hash, ts, signature, key_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING'),
  lastCheckpoint: db.prepare<[], { seq: number }>('SELECT max(seq) AS seq FROM checkpoints'),
};

let synchronous: 'FULL' | 'NORMAL' = 'FULL';

// BEGIN IMMEDIATE takes the write lock before the head is read, so a CLI process
// appending to the same file waits (busy_timeout) instead of forking the chain.
function inTransaction<T>(fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const v = fn();
    db.exec('COMMIT');
    return v;
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

function insertCheckpoints(cps: Checkpoint[]): Checkpoint[] {
  return cps.filter((c) => st.checkpoint.run(c.seq, c.hash, c.ts, c.signature, c.keyId).changes === 1);
}

function write(items: BatchItem[], durable: boolean) {
  // NORMAL in WAL mode skips the fsync of this commit; the next FULL commit syncs the
  // WAL, earlier frames included. Only batches holding no durable event use it.
  const want = durable ? 'FULL' : 'NORMAL';
  if (want !== synchronous) {
    db.pragma(`synchronous = ${want}`);
    synchronous = want;
  }
  const { result, checkpoints } = inTransaction(() => {
    const head = st.head.get() as ChainHead;
    const batch = chainBatch(head, items, new Date().toISOString(), cfg.checkpointEvery, sign);
    for (const r of batch.rows) st.event.run(r.seq, r.ts, r.type, r.session_id, r.actor, r.data, r.prev_hash, r.hash);
    for (const s of batch.sessions.starts.values()) st.start.run(s);
    for (const u of batch.sessions.updates.values()) st.update.run(u);
    const inserted = insertCheckpoints(batch.checkpoints);
    st.setHead.run(batch.head.seq, batch.head.hash);
    return { result: written(head, batch), checkpoints: inserted };
  });
  appendCheckpoints(cfg.dataDir, checkpoints);
  return result;
}

function checkpointHead(): Checkpoint | null {
  const cp = inTransaction(() => {
    const head = st.head.get() as ChainHead;
    if (head.seq === 0 || (st.lastCheckpoint.get()?.seq ?? 0) >= head.seq) return null;
    const c: Checkpoint = { seq: head.seq, hash: head.hash, ts: new Date().toISOString(), ...sign(head.seq, head.hash) };
    return insertCheckpoints([c])[0] ?? null;
  });
  if (cp) appendCheckpoints(cfg.dataDir, [cp]);
  return cp;
}

parentPort!.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    let value: unknown = null;
    if (req.op === 'write') value = write(req.items, req.durable);
    else if (req.op === 'checkpoint') value = checkpointHead();
    else if (req.op === 'head') value = st.head.get();
    else db.close();
    reply = { id: req.id, ok: true, value };
  } catch (e) {
    reply = { id: req.id, ok: false, message: (e as Error).message, code: (e as { code?: string }).code };
  }
  parentPort!.postMessage(reply);
  if (req.op === 'close') parentPort!.close();
});
