// The SQLite audit writer thread. node:sqlite is synchronous and a durable commit
// waits for fsync, so here the writes happen on this thread's own connection while
// the main thread keeps serving sockets. One message = one batch = one transaction.
import { parentPort, workerData } from 'node:worker_threads';
import type { HeadKind } from './head.ts';
import { type JournaledWire, type PackedItems, unpackItems, unpackJournaled } from './batch-wire.ts';
import { SqliteChain } from './sqlite-chain.ts';
import type { WriterConfig } from './writer.ts';

export type WorkerRequest =
  | { id: number; op: 'write'; items: PackedItems; durable: boolean; journaled?: JournaledWire }
  | { id: number; op: 'recover' }
  | { id: number; op: 'rotate'; gen: number; end: number }
  | { id: number; op: 'sign'; kind: HeadKind }
  | { id: number; op: 'close' };

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; code?: string };

const chain = new SqliteChain(workerData as WriterConfig & { file: string });

parentPort!.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    let value: unknown = null;
    if (req.op === 'write') value = chain.write(unpackItems(req.items), req.durable, req.journaled && unpackJournaled(req.journaled));
    else if (req.op === 'recover') {
      chain.recover();
      value = chain.journalPosition();
    } else if (req.op === 'rotate') value = chain.rotate(req.gen, req.end);
    else if (req.op === 'sign') value = chain.sign(req.kind);
    else chain.close();
    reply = { id: req.id, ok: true, value };
  } catch (e) {
    reply = { id: req.id, ok: false, message: (e as Error).message, code: (e as { code?: string }).code };
  }
  parentPort!.postMessage(reply);
  if (req.op === 'close') parentPort!.close();
});
