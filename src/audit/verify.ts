// `warden audit verify`: walk the whole chain in seq order, a page at a time, and name
// the first event that breaks it. Checks, in order of the walk: seq continuity (a gap is
// a removed event), each event's hash over its canonical content (changed, or moved:
// see explain.ts), prevHash linkage, and every signed checkpoint; then whether anything
// signed or recorded lies beyond the end of the chain (a truncated tail).
import type { Store } from '../store/open.ts';
import { canonicalJson, eventHash, GENESIS_HASH } from './canonical.ts';
import { type Checkpoint, readCheckpointFile } from './checkpoint-file.ts';
import { explainMismatch } from './explain.ts';
import { checkSignature, readKey, type SigningKey } from './keys.ts';
import type { VerifyResult } from './types.ts';

export interface VerifyOptions {
  /** events read per query (bounds memory); default 2000 */
  pageSize?: number;
}

type Problem = Required<Pick<VerifyResult, 'problem' | 'brokenSeq' | 'kind'>>;

export async function verifyAudit(store: Store, dataDir: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 2000;
  // Everything that says how long the chain should be is read *before* the walk, so
  // events committed meanwhile by a running gateway cannot look like a cut tail.
  const head = await store.db.selectFrom('chain_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  const { checkpoints, conflict } = await loadCheckpoints(store, dataDir);
  const key = readKey(dataDir);

  let count = 0;
  let expectSeq = 1;
  let prev = GENESIS_HASH;
  const result = (p?: Problem): VerifyResult => ({ ok: !p, count, lastSeq: expectSeq - 1, checkpoints: checkpoints.size, ...p });
  if (conflict) return result(conflict);

  for (;;) {
    const rows = await store.db.selectFrom('events').selectAll().where('seq', '>', expectSeq - 1).orderBy('seq').limit(pageSize).execute();
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expectSeq) {
        const to = seq - 1 === expectSeq ? `event ${expectSeq} was` : `events ${expectSeq}..${seq - 1} were`;
        return result({ kind: 'removed', brokenSeq: expectSeq, problem: `${to} removed: the chain jumps from event ${expectSeq - 1} to event ${seq}` });
      }
      let dataJson: string | null;
      try {
        dataJson = canonicalJson(JSON.parse(r.data));
      } catch {
        dataJson = null;
      }
      const parts = { seq, ts: r.ts, type: r.type, sessionId: r.session_id, actor: r.actor, dataJson: dataJson ?? '' };
      if (dataJson === null || eventHash(r.prev_hash, parts) !== r.hash) {
        return result(await explainMismatch(store, r, prev, dataJson !== null));
      }
      if (r.prev_hash !== prev) {
        return result({
          kind: 'removed',
          brokenSeq: seq,
          problem: `event ${seq} does not follow event ${seq - 1}: its prevHash is not event ${seq - 1}'s hash (an event before it was removed or replaced)`,
        });
      }
      const cp = checkpoints.get(seq);
      if (cp) {
        const bad = checkCheckpoint(cp, key);
        if (bad) return result({ kind: 'checkpoint', brokenSeq: seq, problem: bad });
        if (cp.hash !== r.hash) {
          return result({ kind: 'changed', brokenSeq: seq, problem: `event ${seq} is not the event the signed checkpoint at ${seq} names: the chain was rewritten up to here` });
        }
      }
      prev = r.hash;
      expectSeq++;
      count++;
    }
    if (rows.length < pageSize) break;
  }

  const end = expectSeq - 1;
  let beyond: Checkpoint | undefined;
  for (const cp of checkpoints.values()) if (cp.seq > end && (!beyond || cp.seq > beyond.seq)) beyond = cp;
  if (beyond) {
    const bad = checkCheckpoint(beyond, key);
    if (bad) return result({ kind: 'checkpoint', brokenSeq: beyond.seq, problem: bad });
    return result({ kind: 'truncated', brokenSeq: end + 1, problem: `the tail was cut off: a signed checkpoint names event ${beyond.seq} but the chain ends at event ${end}` });
  }
  if (head && Number(head.seq) > end) {
    return result({ kind: 'truncated', brokenSeq: end + 1, problem: `the tail was cut off: the chain head records event ${head.seq} but the chain ends at event ${end}` });
  }
  if (head && Number(head.seq) === end && end > 0 && head.hash !== prev) {
    return result({ kind: 'changed', brokenSeq: end, problem: `event ${end} is not the event the chain head records` });
  }
  return result();
}

function checkCheckpoint(cp: Checkpoint, key: SigningKey | null): string | null {
  if (!key) return `a checkpoint at event ${cp.seq} exists but the data dir holds no audit key to check it`;
  if (cp.keyId !== key.keyId) return `the checkpoint at event ${cp.seq} was signed by key ${cp.keyId}, not by this data dir's key ${key.keyId}`;
  if (!checkSignature(key, cp.seq, cp.hash, cp.signature)) return `the checkpoint at event ${cp.seq} has an invalid signature`;
  return null;
}

/**
 * Checkpoints from the table and the JSON-lines file, by seq. One per checkpointEvery
 * events, so this map is the walk's only memory that grows with the chain (by 1/N).
 */
async function loadCheckpoints(store: Store, dataDir: string): Promise<{ checkpoints: Map<number, Checkpoint>; conflict?: Problem }> {
  const checkpoints = new Map<number, Checkpoint>();
  const rows = await store.db.selectFrom('checkpoints').selectAll().orderBy('seq').execute();
  for (const r of rows) checkpoints.set(Number(r.seq), { seq: Number(r.seq), hash: r.hash, ts: r.ts, signature: r.signature, keyId: r.key_id });
  const file = await readCheckpointFile(dataDir);
  for (const c of file.checkpoints) {
    const seen = checkpoints.get(c.seq);
    if (!seen) checkpoints.set(c.seq, c);
    else if (seen.hash !== c.hash) {
      return {
        checkpoints,
        conflict: { kind: 'checkpoint', brokenSeq: c.seq, problem: `the checkpoints table and the checkpoint file disagree about event ${c.seq}` },
      };
    }
  }
  return { checkpoints };
}
