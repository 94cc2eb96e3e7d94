// One write transaction's worth of chain: given the head read under the writer's lock,
// give each queued event its seq, prevHash and hash, and work out the session
// projection (pure); and sign the head that covers the batch (HeadSigner). The SQLite
// worker and the Postgres writer share both and cannot disagree about the chain.
import type { Selectable } from 'kysely';
import type { EventsTable, SessionsTable, SignedHeadsTable } from '../store/schema.ts';
import { canonicalJson, eventHash, GENESIS_HASH } from './canonical.ts';
import { type HeadKind, headHash, headSignatureOk, type SignedHead, signHead } from './head.ts';
import { makeSigner, type Signer, type SigningKey } from './keys.ts';

/** A queued event as the writers see it: data already canonical JSON (checked at append). */
export interface BatchItem {
  type: string;
  sessionId: string | null;
  actor: string | null;
  dataJson: string;
  /** when it was journaled (journal.ts): its time in the chain, though it joins the chain later */
  ts?: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** A row of the events table, as the writers insert it. */
export type EventRow = EventsTable;

/** A new row of the sessions projection. */
export type SessionStart = Selectable<SessionsTable>;

export interface SessionUpdate {
  id: string;
  /** command events to add */
  commands: number;
  ended_at: string | null;
  end_reason: string | null;
}

/**
 * The batch's effect on the `sessions` projection. A session started in this batch is
 * inserted whole (its commands and end folded in), so every session row is written
 * once per batch: that lets the Postgres writer do it all in one statement.
 */
export interface SessionProjection {
  starts: Map<string, SessionStart>;
  updates: Map<string, SessionUpdate>;
}

export interface ChainedBatch {
  rows: EventRow[];
  head: ChainHead;
  sessions: SessionProjection;
}

/** What a writer hands back per batch: enough for the log to rebuild each AuditEvent, and the head it signed. */
export interface BatchWritten {
  firstSeq: number;
  ts: string;
  prevHash: string;
  hashes: string[];
  /** null: the batch went in unsigned, within signEvery of the last head (see HeadSigner) */
  signed: SignedHead | null;
  /** journaled events this transaction indexed ahead of the batch's own (their hashes come first) */
  journaled?: number;
  /** whether the commit was synced (a batch without durable events is when it carries a head) */
  durable?: boolean;
}

export function chainBatch(head: ChainHead, items: BatchItem[], ts: string): ChainedBatch {
  const rows: EventRow[] = new Array(items.length);
  const sessions: SessionProjection = { starts: new Map(), updates: new Map() };
  let { seq, hash } = head;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const prev = hash;
    const at = it.ts ?? ts;
    seq += 1;
    hash = eventHash(prev, { seq, ts: at, type: it.type, sessionId: it.sessionId, actor: it.actor, dataJson: it.dataJson });
    rows[i] = { seq, ts: at, type: it.type, session_id: it.sessionId, actor: it.actor, data: it.dataJson, prev_hash: prev, hash };
    if (it.sessionId !== null) project(sessions, it, at);
  }
  return { rows, head: { seq, hash }, sessions };
}

function project(p: SessionProjection, it: BatchItem, ts: string): void {
  const id = it.sessionId as string;
  if (it.type === 'session.start') {
    const d = JSON.parse(it.dataJson) as Record<string, unknown>;
    const identity = (d.identity ?? {}) as Record<string, unknown>;
    p.starts.set(id, {
      id,
      connection: str(d.connection),
      connection_type: typeof d.connectionType === 'string' ? d.connectionType : null,
      protocol: str(d.protocol),
      identity_name: str(identity.name ?? it.actor),
      identity: JSON.stringify(identity),
      client_addr: str(d.clientAddr),
      started_at: ts,
      commands: 0,
      ended_at: null,
      end_reason: null,
    });
    return;
  }
  if (it.type !== 'command' && it.type !== 'session.end') return;
  let row: SessionStart | SessionUpdate | undefined = p.starts.get(id) ?? p.updates.get(id);
  if (!row) p.updates.set(id, (row = { id, commands: 0, ended_at: null, end_reason: null }));
  if (it.type === 'command') {
    row.commands++;
  } else {
    const d = JSON.parse(it.dataJson) as Record<string, unknown>;
    row.ended_at = ts;
    row.end_reason = str(d.reason);
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v == null ? '' : String(v));

export function written(prevHead: ChainHead, batch: ChainedBatch, signed: SignedHead | null): BatchWritten {
  return {
    firstSeq: prevHead.seq + 1,
    ts: batch.rows.at(-1)?.ts ?? '', // the batch's own time: journaled rows, with theirs, come first
    prevHash: prevHead.hash,
    hashes: batch.rows.map((r) => r.hash),
    signed,
  };
}

/** Something a writer found in the store that no writer of this chain can have left there. */
export class ChainTampered extends Error {
  readonly code = 'WARDEN_AUDIT_TAMPERED';
}

/**
 * The writer side of signed heads. Under the writer's lock it is shown the chain head
 * and the newest signed head as the store holds them, and signs the next head only when
 * they are what a genuine writer left: its own last head (or a later one that verifies
 * under the same key), covering the chain head, or followed by an unsigned tail (below).
 * Anything else (a rewound or edited head, events added without a head) is tampering:
 * signing over it would launder it, so the writer refuses this and every later write
 * (fail closed; strict recording then holds commands back) until it is restarted and
 * the chain looked at.
 *
 * A batch is signed only when signEveryMs has passed since the newest head (by the
 * batch's own timestamp, so every unsigned event has ts < head ts + signEveryMs, which
 * verify checks); the log's idle timer and close() sign the tail. An unsigned tail is
 * accepted when it is this writer's own (it remembers the chain head it committed), or,
 * for a writer that did not write it (another process, a restart after a crash), when it
 * follows a head that is not a close head, chains from it hash by hash, and its events
 * are within the window: what a genuine writer can leave.
 */
export class HeadSigner {
  private readonly sign: Signer;
  private last: SignedHead | null = null;
  private lastHash = '';
  /** the chain head after this writer's last commit, signed or not */
  private own: ChainHead | null = null;
  private broken: ChainTampered | null = null;

  constructor(
    private readonly key: SigningKey,
    /** 0: a head with every batch */
    private readonly signEveryMs = 0,
  ) {
    this.sign = makeSigner(key);
  }

  /** Must the caller read the events after `top` (tail()) before calling next()? */
  needsTail(chain: ChainHead, top: SignedHead | null): boolean {
    return top !== null && top.seq < chain.seq && !this.ownsTail(chain, top);
  }

  private ownsTail(chain: ChainHead, top: SignedHead): boolean {
    return this.last !== null && top.n === this.last.n && this.own !== null && this.own.seq === chain.seq && this.own.hash === chain.hash;
  }

  /**
   * The head to store with this transaction, over `after` (the chain once the batch is
   * in; for a beat, the chain as it is). null: nothing to sign (an empty chain, an
   * `adopt` when heads exist already, or a batch within signEveryMs of the last head).
   * `tail`: the events after `top`, when needsTail() said so.
   */
  next(kind: HeadKind, chain: ChainHead, top: SignedHead | null, after: ChainHead, ts: string, tail?: EventRow[]): SignedHead | null {
    if (this.broken) throw this.broken;
    let prev = GENESIS_HASH;
    if (top === null) {
      if (this.last) this.tampered(`the store holds no signed head, though this writer signed head #${this.last.n}: the heads were deleted`);
      if (chain.seq > 0 && kind !== 'adopt') {
        throw new Error(`the audit chain holds ${chain.seq} events but no signed head: a chain written before signed heads must be adopted first (see \`warden audit verify\`)`);
      }
    } else {
      if (this.last && (top.n < this.last.n || (top.n === this.last.n && headHash(top) !== this.lastHash))) {
        this.tampered(`the store's newest signed head is #${top.n}, but this writer signed head #${this.last.n}: the chain was rewound`);
      }
      const mine = this.last !== null && top.n === this.last.n;
      if (!mine && (top.keyId !== this.key.keyId || !headSignatureOk(this.key.publicKey, top))) {
        this.tampered(`the store's newest signed head #${top.n} is not signed by this gateway's audit key ${this.key.keyId}`);
      }
      if (top.seq > chain.seq || (top.seq === chain.seq && top.hash !== chain.hash)) {
        this.tampered(`the chain head (event ${chain.seq}) is not the event the newest signed head #${top.n} names (${top.seq}): the chain was rewritten`);
      }
      if (mine && this.own && (this.own.seq !== chain.seq || this.own.hash !== chain.hash)) {
        // After its own head only this writer appends (another one signs its first batch),
        // so its memory of the chain head is the truth about the unsigned tail.
        this.tampered(`the chain head (event ${chain.seq}) is not the one this writer left (event ${this.own.seq}) after its head #${top.n}: the unsigned events were rewritten, added or removed`);
      }
      if (top.seq < chain.seq && !this.ownsTail(chain, top)) {
        const why = this.badTail(chain, top, tail ?? []);
        if (why) this.tampered(`events ${top.seq + 1}..${chain.seq} follow the newest signed head #${top.n} without a head of their own: ${why}`);
      }
      if (kind === 'adopt') return null;
      // Unsigned only after this writer's own head: behind another writer's head (a close
      // head above all) no tail is left, so the tail rules above stay simple.
      if (kind === 'batch' && mine && this.signEveryMs > 0 && Date.parse(ts) - Date.parse(top.ts) < this.signEveryMs) return null;
      prev = mine ? this.lastHash : headHash(top);
    }
    if (after.seq === 0) return null;
    return signHead({ n: (top?.n ?? 0) + 1, seq: after.seq, hash: after.hash, ts, prev, kind, keyId: this.key.keyId }, this.sign);
  }

  /** Why an unsigned tail another writer left is not one a gateway can leave, or null. */
  private badTail(chain: ChainHead, top: SignedHead, tail: EventRow[]): string | null {
    if (top.kind === 'close') return 'they were not written by a gateway (none writes after its close head)';
    if (this.signEveryMs <= 0) return 'they were not written by a gateway (this one signs every commit)';
    let prev = top.hash;
    let seq = top.seq;
    const until = Date.parse(top.ts) + this.signEveryMs;
    for (const r of tail) {
      seq++;
      if (Number(r.seq) !== seq || r.prev_hash !== prev) return `they were not written by a gateway (event ${seq} does not follow the chain)`;
      let dataJson: string;
      try {
        dataJson = canonicalJson(JSON.parse(r.data));
      } catch {
        return `they were not written by a gateway (event ${seq} holds no JSON)`;
      }
      if (eventHash(prev, { seq, ts: r.ts, type: r.type, sessionId: r.session_id, actor: r.actor, dataJson }) !== r.hash) {
        return `they were not written by a gateway (event ${seq} does not match its hash)`;
      }
      if (!(Date.parse(r.ts) < until)) return `they were not written by a gateway (event ${seq} is later than signEvery after that head)`;
      prev = r.hash;
    }
    if (seq !== chain.seq || prev !== chain.hash) return 'they were not written by a gateway (the chain head does not match them)';
    return null;
  }

  /** A transaction committed: `h` (if signed) is the head to find next time, `chain` the chain head. */
  committed(h: SignedHead | null, chain: ChainHead): void {
    if (h) {
      this.last = h;
      this.lastHash = headHash(h);
    }
    this.own = { seq: chain.seq, hash: chain.hash };
  }

  private tampered(why: string): never {
    this.broken = new ChainTampered(`audit chain tampered: ${why}; no further events are written (run \`warden audit verify\`)`);
    throw this.broken;
  }
}

/** A row of signed_heads as the writers and verify use it. */
export function headFromRow(r: Selectable<SignedHeadsTable>): SignedHead {
  return { n: Number(r.n), seq: Number(r.seq), hash: r.hash, ts: r.ts, prev: r.prev, kind: r.kind as SignedHead['kind'], keyId: r.key_id, signature: r.signature };
}
