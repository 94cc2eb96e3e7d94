// `warden audit verify`: walk the whole chain in seq order, a page at a time, and name
// the first event that breaks it. During the walk: seq continuity (a gap is a removed
// event), each event's hash over its canonical content (changed, or moved: explain.ts),
// prevHash linkage, and the signed heads in step with the events (numbered without a
// gap, each linked to the one before, each naming the event the walk finds at its seq).
// After it: the newest head's signature (which vouches for every head it links back to),
// then whether the chain reaches as far as everything that says how long it is (the
// chain head row, copies of heads kept outside the store, the running writer's memory),
// whether every event is covered by a signed head, and whether the newest head is fresh.
import { join } from 'node:path';
import type { Store } from '../store/open.ts';
import { canonicalJson, eventHash, GENESIS_HASH } from './canonical.ts';
import { type Checkpoint, readCheckpointFile } from './checkpoint-file.ts';
import { explainMismatch } from './explain.ts';
import { headHash, headSignatureOk, type SignedHead } from './head.ts';
import { HEADS_FILE, newestHeadInFile } from './heads-file.ts';
import { checkSignature, legacyCheckpointMessage, type PublicKey, readKey } from './keys.ts';
import { type ChainSource, exportSource, readExportHeader, storeSource } from './source.ts';
import type { VerifyResult } from './types.ts';

/** A signed head known from outside the chain being verified, and where it was found. */
export interface HeadCopy {
  where: string;
  head: SignedHead;
}

export interface VerifyOptions {
  /** events read per query (bounds memory); default 2000 */
  pageSize?: number;
  /** the pinned public key: when given, the data dir's key is never read */
  publicKey?: PublicKey;
  /** more files of signed heads to hold the chain to (directory sinks, copies from an HTTP sink) */
  headFiles?: string[];
  /** heads known from elsewhere, e.g. the last one the running writer signed */
  knownHeads?: HeadCopy[];
  /** the newest head is stale when it is older than this and not a close head; 0: never. Default DEFAULT_STALE_AFTER_MS */
  staleAfterMs?: number;
  /** the time staleness is measured at (default now; an export: when it was taken) */
  now?: number;
  /** the writer's signEvery: events after the newest head younger than it are an unsigned tail, not a problem (default DEFAULT_SIGN_EVERY_MS; 0: every event must be covered) */
  signEveryMs?: number;
}

/** gateway.audit.signEvery's default. */
export const DEFAULT_SIGN_EVERY_MS = 250;

/** Twice the default head interval (60 s): one missed beat is not yet stale. */
export const DEFAULT_STALE_AFTER_MS = 120_000;

type Problem = Required<Pick<VerifyResult, 'problem' | 'brokenSeq' | 'kind'>>;

export async function verifyAudit(store: Store, dataDir: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const key = opts.publicKey ?? readKey(dataDir);
  const legacyFile = (await readCheckpointFile(dataDir)).checkpoints;
  const headFiles = [join(dataDir, HEADS_FILE), ...(opts.headFiles ?? [])];
  // Postgres writers sign every commit (pg-writer.ts): no tail there is one a writer left.
  const signEveryMs = store.kind === 'sqlite' ? opts.signEveryMs : 0;
  return verifyChain(storeSource(store.db, opts.pageSize), key, { ...opts, headFiles, signEveryMs }, legacyFile);
}

/** Verify an export file offline: no store, no data dir, so the key must be given. */
export async function verifyExport(file: string, opts: VerifyOptions & { publicKey: PublicKey }): Promise<VerifyResult> {
  const header = await readExportHeader(file);
  return verifyChain(await exportSource(file), opts.publicKey, { now: Date.parse(header.exportedAt), ...opts }, []);
}

export async function verifyChain(source: ChainSource, key: PublicKey | null, opts: VerifyOptions, legacyFile: Checkpoint[]): Promise<VerifyResult> {
  const pinned = opts.publicKey !== undefined;
  const keyName = pinned ? 'the pinned key' : "the data dir's key";
  const badSignature = signatureCheck(key, pinned);
  // Everything that says how long the chain should be is read *before* the walk, so
  // events committed meanwhile by a running gateway cannot look like a cut tail.
  const chainHead = await source.chainHead();
  const copies: HeadCopy[] = [...(opts.knownHeads ?? [])];
  for (const f of opts.headFiles ?? []) {
    const h = await newestHeadInFile(f);
    if (h) copies.push({ where: f, head: h });
  }
  const { checkpoints, conflict } = await legacyCheckpoints(source, legacyFile);

  let count = 0;
  let expectSeq = 1;
  let prev = GENESIS_HASH;
  // the newest head the walk has accepted (an object: closures below update it)
  const walk = { last: null as SignedHead | null, lastHash: GENESIS_HASH, heads: 0 };
  // the latest timestamp among the events after walk.last (the unsigned tail so far)
  let tailMaxTs = -Infinity;
  let unsignedTail = 0;
  const result = (p?: Problem): VerifyResult => ({
    ok: !p,
    count,
    lastSeq: expectSeq - 1,
    heads: walk.heads,
    ...(walk.last ? { newestHead: { n: walk.last.n, seq: walk.last.seq, ts: walk.last.ts, kind: walk.last.kind } } : {}),
    ...(unsignedTail ? { unsignedTail } : {}),
    checkpoints: checkpoints.size,
    ...(key ? { keyId: key.keyId } : {}),
    keyPinned: pinned,
    ...p,
  });
  if (conflict) return result(conflict);

  // A head is taken when the walk reaches the event it names.
  const acceptHead = (h: SignedHead, eventHashAtSeq: string): Problem | null => {
    const want = (walk.last?.n ?? 0) + 1;
    const from = Math.min(h.seq, (walk.last?.seq ?? 0) + 1);
    if (h.n !== want) {
      const gap = h.n > want ? `signed head${h.n - want > 1 ? `s #${want}..#${h.n - 1} are` : ` #${want} is`} missing` : `signed head #${h.n} appears twice or out of order`;
      return { kind: 'head', brokenSeq: from, problem: `${gap}: the chain of heads jumps from #${want - 1} to #${h.n}` };
    }
    if (h.prev !== walk.lastHash) {
      return { kind: 'head', brokenSeq: from, problem: `signed head #${h.n} does not follow head #${want - 1} (its prev is not that head's hash): a head was changed or replaced` };
    }
    if (key && h.keyId !== key.keyId) return { kind: 'head', brokenSeq: from, problem: badSignature(h)! };
    if (h.hash !== eventHashAtSeq) {
      return { kind: 'changed', brokenSeq: h.seq, problem: `event ${h.seq} is not the event signed head #${h.n} names: the chain was rewritten up to here` };
    }
    walk.last = h;
    walk.lastHash = headHash(h);
    tailMaxTs = -Infinity;
    walk.heads++;
    return null;
  };

  // Heads come a page at a time; the walk takes the next one without awaiting while the page lasts.
  const headPages = source.heads(0)[Symbol.asyncIterator]();
  let headPage: SignedHead[] = [];
  let headAt = 0;
  const nextPage = async (): Promise<SignedHead | null> => {
    while (headAt >= headPage.length) {
      const r = await headPages.next();
      if (r.done) return null;
      headPage = r.value;
      headAt = 0;
    }
    return headPage[headAt++];
  };
  let pending = await nextPage();

  // Rounds: a head read after the events may name events committed after they were read.
  for (let round = 0; ; round++) {
    for await (const page of source.events(expectSeq - 1)) {
      for (const r of page) {
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
          return result(await explainMismatch(source, r, prev, dataJson !== null));
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
          const bad = badCheckpoint(cp, key, keyName);
          if (bad) return result({ kind: 'checkpoint', brokenSeq: seq, problem: bad });
          if (cp.hash !== r.hash) {
            return result({ kind: 'changed', brokenSeq: seq, problem: `event ${seq} is not the event the signed checkpoint at ${seq} names: the chain was rewritten up to here` });
          }
        }
        while (pending && pending.seq <= seq) {
          if (pending.seq < seq) {
            return result({ kind: 'head', brokenSeq: pending.seq, problem: `signed head #${pending.n} names event ${pending.seq}, behind the head before it: the heads were reordered` });
          }
          const p = acceptHead(pending, r.hash);
          if (p) return result(p);
          pending = headAt < headPage.length ? headPage[headAt++] : await nextPage();
        }
        if (!walk.last || seq > walk.last.seq) tailMaxTs = Math.max(tailMaxTs, Date.parse(r.ts));
        prev = r.hash;
        expectSeq++;
        count++;
      }
    }
    if (!pending || round >= 1000) break;
    // A head beyond the last event read: were its events committed since?
    const more = source.events(expectSeq - 1)[Symbol.asyncIterator]();
    const next = await more.next();
    await more.return?.();
    if (next.done) break;
  }
  const end = expectSeq - 1;
  const last = walk.last;

  if (pending) {
    const bad = badSignature(pending);
    if (bad) return result({ kind: 'head', brokenSeq: end + 1, problem: bad });
    return result({ kind: 'truncated', brokenSeq: end + 1, problem: `the tail was cut off: signed head #${pending.n} names event ${pending.seq} but the chain ends at event ${end}` });
  }
  // The newest head's signature vouches for all the heads it links back to.
  if (last && badSignature(last)) return result(await firstBadSignature(source, badSignature));

  let beyond: Checkpoint | undefined;
  for (const cp of checkpoints.values()) if (cp.seq > end && (!beyond || cp.seq > beyond.seq)) beyond = cp;
  if (beyond) {
    const bad = badCheckpoint(beyond, key, keyName);
    if (bad) return result({ kind: 'checkpoint', brokenSeq: beyond.seq, problem: bad });
    return result({ kind: 'truncated', brokenSeq: end + 1, problem: `the tail was cut off: a signed checkpoint names event ${beyond.seq} but the chain ends at event ${end}` });
  }
  if (chainHead && chainHead.seq > end) {
    return result({ kind: 'truncated', brokenSeq: end + 1, problem: `the tail was cut off: the chain head records event ${chainHead.seq} but the chain ends at event ${end}` });
  }
  if (chainHead && chainHead.seq === end && end > 0 && chainHead.hash !== prev) {
    return result({ kind: 'changed', brokenSeq: end, problem: `event ${end} is not the event the chain head records` });
  }

  let covered = last?.seq ?? 0;
  for (const cp of checkpoints.values()) if (cp.seq <= end) covered = Math.max(covered, cp.seq);
  // A writer signs at most every signEvery (chain.ts, HeadSigner): the events it
  // committed since its newest head all have ts < that head's ts + signEvery, and it
  // signs them before closing. Such a tail is reported, not a problem; its hash chain
  // was checked above like every event's, but no signature covers it yet.
  const window = opts.signEveryMs ?? DEFAULT_SIGN_EVERY_MS;
  if (end > covered && last && covered === last.seq && last.kind !== 'close' && window > 0 && tailMaxTs < Date.parse(last.ts) + window) {
    unsignedTail = end - covered;
  } else if (end > covered) {
    const what = end - covered === 1 ? `event ${end} is` : `events ${covered + 1}..${end} are`;
    return result({
      kind: 'unsigned',
      brokenSeq: covered + 1,
      problem: `${what} covered by no signed head: ${last ? `the heads after #${last.n} were deleted, or the events were added by someone without the key` : 'no head or checkpoint was ever signed over them'}`,
    });
  }

  for (const c of copies) {
    const p = await checkCopy(source, c, last, end, badSignature);
    if (p) return result(p);
  }

  const staleAfter = opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  if (last && staleAfter > 0) {
    const newest = last;
    const age = (opts.now ?? Date.now()) - Date.parse(newest.ts);
    if (newest.kind !== 'close' && !(age <= staleAfter)) {
      return result({
        kind: 'stale',
        brokenSeq: newest.seq + 1,
        problem:
          `the newest signed head #${newest.n} (event ${newest.seq}) was signed at ${newest.ts}, ${Math.round(age / 1000)} s ago, and is not a close head: ` +
          `a running gateway signs one at least every ${Math.round(staleAfter / 2000)} s, so the heads after it were deleted, or the gateway stopped without closing (it signs a fresh head when it starts again)`,
      });
    }
  }
  return result();
}

/** What is wrong with a head's signature under this key, or null. */
export function signatureCheck(key: PublicKey | null, pinned: boolean): (h: SignedHead) => string | null {
  const keyName = pinned ? 'the pinned key' : "the data dir's key";
  return (h) => {
    if (!key) return `signed head #${h.n} exists but there is no audit key to check it (none pinned, none in the data dir)`;
    if (h.keyId !== key.keyId) return `signed head #${h.n} was signed by key ${h.keyId}, not by ${keyName} ${key.keyId}`;
    return headSignatureOk(key.publicKey, h) ? null : `signed head #${h.n} has an invalid signature`;
  };
}

/**
 * A head kept outside the chain must be in it. Newer than the chain's newest head: the
 * store lost its tail (or the copy holds a forgery, which is as bad). Not newer: the
 * chain's head of that number must be the very same head, and then, by the links, so
 * is every head before it.
 */
export async function checkCopy(
  source: ChainSource,
  c: HeadCopy,
  last: SignedHead | null,
  end: number,
  badSignature: (h: SignedHead) => string | null,
): Promise<Problem | null> {
  const h = c.head;
  if (!last || h.n > last.n) {
    const bad = badSignature(h);
    if (bad) return { kind: 'head', brokenSeq: Math.min(h.seq, end + 1), problem: `${c.where} holds a head the chain lacks, and ${bad}` };
    return {
      kind: 'truncated',
      brokenSeq: Math.min(h.seq, (last?.seq ?? 0) + 1, end + 1),
      problem: `the tail was cut off: ${c.where} holds signed head #${h.n} (event ${h.seq}, signed ${h.ts}) but ${source.name} ends at head #${last?.n ?? 0} (event ${end})`,
    };
  }
  const mine = await source.head(h.n);
  if (!mine || headHash(mine) !== headHash(h)) {
    return {
      kind: 'head',
      brokenSeq: Math.min(h.seq, mine?.seq ?? h.seq),
      problem: `${c.where} holds another signed head #${h.n} (event ${h.seq}, signed ${h.ts}) than ${source.name}: the chain was rewritten and signed again from there on`,
    };
  }
  return null;
}

/** The newest head's signature failed: find the first head whose signature fails, for the message. */
async function firstBadSignature(source: ChainSource, badSignature: (h: SignedHead) => string | null): Promise<Problem> {
  let good: SignedHead | null = null;
  for await (const page of source.heads(0)) {
    for (const h of page) {
      const bad = badSignature(h);
      if (bad) return { kind: 'head', brokenSeq: Math.min(h.seq, (good?.seq ?? 0) + 1), problem: `${bad}: the heads from #${h.n} on are not vouched for` };
      good = h;
    }
  }
  return { kind: 'head', brokenSeq: 1, problem: 'the newest signed head has an invalid signature' };
}

function badCheckpoint(cp: Checkpoint, key: PublicKey | null, keyName: string): string | null {
  if (!key) return `a checkpoint at event ${cp.seq} exists but there is no audit key to check it (none pinned, none in the data dir)`;
  if (cp.keyId !== key.keyId) return `the checkpoint at event ${cp.seq} was signed by key ${cp.keyId}, not by ${keyName} ${key.keyId}`;
  if (!checkSignature(key.publicKey, legacyCheckpointMessage(cp.seq, cp.hash), cp.signature)) return `the checkpoint at event ${cp.seq} has an invalid signature`;
  return null;
}

/**
 * Checkpoints of a chain from before signed heads, from the source and the data dir's
 * file, by seq: one per N events of those old chains, and no new ones are written.
 */
async function legacyCheckpoints(source: ChainSource, file: Checkpoint[]): Promise<{ checkpoints: Map<number, Checkpoint>; conflict?: Problem }> {
  const checkpoints = new Map<number, Checkpoint>();
  for (const c of await source.legacyCheckpoints()) checkpoints.set(c.seq, c);
  for (const c of file) {
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
