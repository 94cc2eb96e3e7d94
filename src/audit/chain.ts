// One write transaction's worth of chain: given the head read under the writer's lock,
// give each queued event its seq, prevHash and hash, and work out the session
// projection (pure); and sign the head that covers the batch (HeadSigner). The SQLite
// worker and the Postgres writer share both and cannot disagree about the chain.
import type { Selectable } from 'kysely';
import type { EventsTable, SessionsTable, SignedHeadsTable } from '../store/schema.ts';
import { eventHash, GENESIS_HASH } from './canonical.ts';
import { type HeadKind, headHash, headSignatureOk, type SignedHead, signHead } from './head.ts';
import { makeSigner, type Signer, type SigningKey } from './keys.ts';

/** A queued event as the writers see it: data already canonical JSON (checked at append). */
export interface BatchItem {
  type: string;
  sessionId: string | null;
  actor: string | null;
  dataJson: string;
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
  signed: SignedHead;
}

export function chainBatch(head: ChainHead, items: BatchItem[], ts: string): ChainedBatch {
  const rows: EventRow[] = new Array(items.length);
  const sessions: SessionProjection = { starts: new Map(), updates: new Map() };
  let { seq, hash } = head;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const prev = hash;
    seq += 1;
    hash = eventHash(prev, { seq, ts, type: it.type, sessionId: it.sessionId, actor: it.actor, dataJson: it.dataJson });
    rows[i] = { seq, ts, type: it.type, session_id: it.sessionId, actor: it.actor, data: it.dataJson, prev_hash: prev, hash };
    if (it.sessionId !== null) project(sessions, it, ts);
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

export function written(prevHead: ChainHead, batch: ChainedBatch, signed: SignedHead): BatchWritten {
  return {
    firstSeq: prevHead.seq + 1,
    ts: batch.rows[0]?.ts ?? '',
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
 * under the same key), covering exactly the chain head. Anything else (a rewound or
 * edited head, events added without a head) is tampering: signing over it would launder
 * it, so the writer refuses this and every later write (fail closed; strict recording
 * then holds commands back) until it is restarted and the chain looked at.
 */
export class HeadSigner {
  private readonly sign: Signer;
  private last: SignedHead | null = null;
  private lastHash = '';
  private broken: ChainTampered | null = null;

  constructor(private readonly key: SigningKey) {
    this.sign = makeSigner(key);
  }

  /**
   * The head to store with this transaction, over `after` (the chain once the batch is
   * in; for a beat, the chain as it is). null: nothing to sign (an empty chain, or an
   * `adopt` when heads exist already).
   */
  next(kind: HeadKind, chain: ChainHead, top: SignedHead | null, after: ChainHead, ts: string): SignedHead | null {
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
      if (top.seq !== chain.seq || top.hash !== chain.hash) {
        this.tampered(
          top.seq < chain.seq
            ? `events ${top.seq + 1}..${chain.seq} follow the newest signed head #${top.n} without a head of their own: they were not written by a gateway`
            : `the chain head (event ${chain.seq}) is not the event the newest signed head #${top.n} names (${top.seq}): the chain was rewritten`,
        );
      }
      if (kind === 'adopt') return null;
      prev = mine ? this.lastHash : headHash(top);
    }
    if (after.seq === 0) return null;
    return signHead({ n: (top?.n ?? 0) + 1, seq: after.seq, hash: after.hash, ts, prev, kind, keyId: this.key.keyId }, this.sign);
  }

  /** The head went into a committed transaction: it is the one to find next time. */
  committed(h: SignedHead): void {
    this.last = h;
    this.lastHash = headHash(h);
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
