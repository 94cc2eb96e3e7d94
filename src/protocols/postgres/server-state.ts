// The session's named objects as the SERVER holds them: prepared statements and portals
// (one namespace for protocol Parse/Bind and SQL PREPARE/DECLARE), changed only when the
// server acknowledges (ParseComplete, BindComplete, CloseComplete, CommandComplete of a
// PREPARE/DEALLOCATE/DECLARE/CLOSE/DISCARD, ReadyForQuery's transaction status), never
// when the client merely asks. A Parse of a name that exists fails and keeps the old text;
// after an error the server skips everything up to Sync; a simple Query drops the unnamed
// statement and portal; the end of a transaction drops its portals. The relay judges an
// Execute by what this model says the portal runs (see Predictor), and the record follows.
//
// Acknowledgements arrive in the order messages were forwarded; an answer that does not
// fit the next expected message is a desync, and the session is ended (fail loudly).
import { ProtocolError } from './buffers.ts';
import type { SessionEffect } from '../../sql/types.ts';

/** What a statement name or portal runs. */
export type Runs =
  | { kind: 'text'; text: string }
  /** a SQL-level PREPARE of this name: runs what that PREPARE gave it */
  | { kind: 'prepared'; name: string }
  /** a SQL cursor (DECLARE): rows of a query judged when it was declared */
  | { kind: 'cursor'; name: string }
  /** it exists, but what it runs cannot be known (e.g. made by code Warden cannot see) */
  | { kind: 'unknown'; why: string };

export interface PortalValue {
  runs: Runs;
  params: (string | null)[];
}

/** A message forwarded to the server whose answer changes names. */
export type Op =
  | { k: 'P'; name: string; runs: Runs }
  | { k: 'B'; portal: string; statement: string; params: (string | null)[] }
  | { k: 'C'; target: 'S' | 'P'; name: string }
  /** an Execute: its statement's effect (if any) applies at its CommandComplete */
  | { k: 'E'; effect: SessionEffect | undefined }
  /** a simple Query: one effect per top-level statement, applied at each CommandComplete */
  | { k: 'Q'; effects: readonly (SessionEffect | undefined)[]; done: number }
  | { k: 'F' }
  | { k: 'S' };

export type TxStatus = 'I' | 'T' | 'E';

/** Callbacks for effects that matter beyond names. */
export interface StateListener {
  /** a statement that may change the search path or the functions completed */
  effect?(e: SessionEffect): void;
  /** a ReadyForQuery arrived with this transaction status */
  ready?(status: TxStatus): void;
}

export class ServerState {
  readonly statements = new Map<string, Runs>();
  readonly portals = new Map<string, PortalValue>();
  status: TxStatus = 'I';
  /** forwarded, not yet answered, in order */
  private readonly pending: Op[] = [];
  private head = 0;
  /** pending Sync, Query and FunctionCall messages: the points where the server flushes and answers */
  private windowEnds = 0;
  private settledWaiters: (() => void)[] = [];

  constructor(private readonly listener: StateListener = {}) {}

  /**
   * An extended-protocol error came when no Sync was pending: the server skips what is
   * forwarded until the next Sync (it never answers it, nor does any of it take effect).
   */
  private skippingToSync = false;

  /** The relay forwarded this message. */
  forwarded(op: Op): void {
    if (this.skippingToSync && op.k !== 'S') return;
    this.skippingToSync = false;
    this.pending.push(op);
    if (op.k === 'S' || op.k === 'Q' || op.k === 'F') this.windowEnds++;
  }

  /** Nothing forwarded awaits an answer that ends a window: the model is exact but for the open window. */
  get settled(): boolean {
    return this.windowEnds === 0;
  }

  /** Resolves once every forwarded Sync, Query and FunctionCall has been answered. */
  whenSettled(): Promise<void> {
    if (this.windowEnds === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** The forwarded messages not answered yet (for the predictor). */
  pendingOps(): readonly Op[] {
    return this.pending.slice(this.head);
  }

  private peek(): Op | undefined {
    return this.pending[this.head];
  }

  private shift(expected: Op['k']): Op {
    const op = this.pending[this.head];
    if (!op || op.k !== expected) {
      throw new ProtocolError(`the target answered a ${describeOp(expected)} where Warden expected ${op ? `the answer to a ${describeOp(op.k)}` : 'nothing'}`, '08P01');
    }
    this.pending[this.head] = undefined as unknown as Op;
    this.head++;
    if (this.head > 256 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    return op;
  }

  parseComplete(): void {
    const op = this.shift('P') as Extract<Op, { k: 'P' }>;
    this.statements.set(op.name, op.runs);
  }

  bindComplete(): void {
    const op = this.shift('B') as Extract<Op, { k: 'B' }>;
    const runs = this.statements.get(op.statement);
    // The server bound a statement this model does not hold (made by code it cannot
    // see, e.g. dynamic SQL in a function): the portal is known to exist, not what it runs.
    this.portals.set(op.portal, { runs: runs ?? { kind: 'unknown', why: `statement "${op.statement}" was made by something Warden did not see` }, params: op.params });
  }

  closeComplete(): void {
    const op = this.shift('C') as Extract<Op, { k: 'C' }>;
    (op.target === 'S' ? this.statements : this.portals).delete(op.name);
  }

  /** CommandComplete of the Execute or of the next statement of the Query at the head. */
  commandComplete(): void {
    const op = this.peek();
    if (op?.k === 'E') {
      this.shift('E');
      if (op.effect) this.apply(op.effect);
    } else if (op?.k === 'Q') {
      const e = op.effects[op.done++];
      if (e) this.apply(e);
    }
  }

  /** An Execute ended early (PortalSuspended: its portal goes on at the next Execute). */
  suspended(): void {
    this.shift('E');
  }

  /** The Execute at the head answered EmptyQueryResponse. */
  emptyQuery(): void {
    const op = this.peek();
    if (op?.k === 'E') this.shift('E');
    else if (op?.k === 'Q') op.done++;
  }

  /**
   * An ErrorResponse. `failed` is the kind of message the tracker says failed ('other' for a
   * Describe, a message Warden injected, or an error at Sync). In the extended protocol the
   * server then skips every message up to the next Sync.
   */
  error(failed: Op['k'] | 'other'): void {
    // The error of a simple query or a call: the rest of it does not run; ReadyForQuery ends it.
    // Decided by what failed, not by this model's head: a message Warden injected (a refused
    // Execute) is not in the model, and the Query or call after it is skipped, not failed.
    if (failed === 'Q' || failed === 'F') return;
    const op = this.peek();
    if (op?.k === failed) {
      // A failed unnamed Parse or Bind has already dropped the unnamed statement or portal.
      if (op.k === 'P' && op.name === '') this.statements.delete('');
      // A failed unnamed Bind may or may not have replaced the old unnamed portal.
      if (op.k === 'B' && op.portal === '') this.portals.set('', { runs: { kind: 'unknown', why: 'the last Bind of the unnamed portal failed' }, params: [] });
    }
    while (this.peek() && this.peek()!.k !== 'S') this.skipOne();
    // No Sync on its way: what the client sends until its next Sync is skipped too.
    if (!this.peek()) this.skippingToSync = true;
  }

  private skipOne(): void {
    const op = this.pending[this.head]!;
    if (op.k === 'Q' || op.k === 'F') this.windowEnds--; // ignored by the server until Sync: no ReadyForQuery
    this.pending[this.head] = undefined as unknown as Op;
    this.head++;
  }

  /** ReadyForQuery: ends a Sync, a Query or a FunctionCall. */
  ready(status: TxStatus): void {
    const op = this.peek();
    if (op && (op.k === 'S' || op.k === 'Q' || op.k === 'F')) {
      this.shift(op.k);
      this.windowEnds--;
      if (op.k === 'Q') {
        // a simple query replaces the unnamed statement and portal, and drops both
        this.statements.delete('');
        this.portals.delete('');
      }
    } else if (op) {
      throw new ProtocolError(`the target sent ReadyForQuery where Warden expected the answer to a ${describeOp(op.k)}`, '08P01');
    }
    this.status = status;
    // The end of a transaction drops its portals; SQL cursors WITH HOLD stay (and stay opaque).
    if (status === 'I') for (const [name, p] of this.portals) if (p.runs.kind !== 'cursor') this.portals.delete(name);
    this.listener.ready?.(status);
    if (this.windowEnds === 0 && this.settledWaiters.length) {
      const waiters = this.settledWaiters;
      this.settledWaiters = [];
      for (const w of waiters) w();
    }
  }

  private apply(e: SessionEffect): void {
    if (e.prepare !== undefined) this.statements.set(e.prepare, { kind: 'prepared', name: e.prepare });
    if (e.deallocate !== undefined) {
      if (e.deallocate !== '*') this.statements.delete(e.deallocate);
      else for (const name of this.statements.keys()) if (name !== '') this.statements.delete(name);
    }
    if (e.declare !== undefined) this.portals.set(e.declare, { runs: { kind: 'cursor', name: e.declare }, params: [] });
    if (e.close !== undefined) {
      if (e.close !== '*') this.portals.delete(e.close);
      else this.portals.clear();
    }
    if (e.searchPath || e.functions || e.transactionEnd) this.listener.effect?.(e);
  }

  /** A predictor over the answers still to come (see Predictor). */
  predictor(): Predictor {
    return new Predictor(this, this.pendingOps());
  }
}

function describeOp(k: Op['k']): string {
  return { P: 'Parse', B: 'Bind', C: 'Close', E: 'Execute', Q: 'Query', F: 'FunctionCall', S: 'Sync' }[k];
}

// ---------------------------------------------------------------------------------------
// Prediction. The relay must judge an Execute before the server has answered the messages
// before it. Within one Sync window the answer is exact: if the Execute runs, every message
// before it in its window succeeded (an error makes the server skip to Sync). Messages of
// earlier windows not answered yet may or may not have taken effect, so a name they touch
// holds one of several values; when a portal could run two different things the relay waits
// for the answers (Predictor.resolve says 'wait') instead of guessing.

/** A name's value as predicted: `v` (when it may exist) and whether it may be absent; or DIRTY. */
interface Guess<T> {
  v: T | undefined;
  maybeAbsent: boolean;
}
const DIRTY = 'dirty' as const;
type Maybe<T> = Guess<T> | typeof DIRTY;
const ABSENT: Guess<never> = { v: undefined, maybeAbsent: true };
/** what a failed unnamed Bind may leave: the old portal, or none */
const UNKNOWN_PORTAL: Guess<PortalValue> = { v: { runs: { kind: 'unknown', why: 'a Bind of the unnamed portal may have failed' }, params: [] }, maybeAbsent: true };

function known<T>(v: T): Guess<T> {
  return { v, maybeAbsent: false };
}

function sameRuns(a: Runs, b: Runs): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'text') return a.text === (b as { text: string }).text;
  if (a.kind === 'unknown') return false;
  return a.name === (b as { name: string }).name;
}

function samePortal(a: PortalValue, b: PortalValue): boolean {
  if (a === b) return true;
  if (!sameRuns(a.runs, b.runs) || a.params.length !== b.params.length) return false;
  return a.params.every((p, i) => p === b.params[i]);
}

/** Either value (an op that may or may not have happened). */
function union<T>(a: Maybe<T>, b: Maybe<T>, same: (x: T, y: T) => boolean): Maybe<T> {
  if (a === DIRTY || b === DIRTY) return DIRTY;
  if (a.v !== undefined && b.v !== undefined && !same(a.v, b.v)) return DIRTY;
  return { v: a.v ?? b.v, maybeAbsent: a.maybeAbsent || b.maybeAbsent };
}

export type Resolution =
  | { kind: 'portal'; value: PortalValue }
  /** no such portal when the Execute runs (the server will refuse it) */
  | { kind: 'absent' }
  /** two different things could run: wait for the server's answers */
  | { kind: 'wait' };

export class Predictor {
  /** names of earlier windows (uncertain) over the server's state */
  private closedStatements = new Map<string, Maybe<Runs>>();
  private closedPortals = new Map<string, Maybe<PortalValue>>();
  private closedAllStatements: 'no' | 'maybe-absent' = 'no';
  private closedAllPortals: 'no' | 'maybe-absent' = 'no';
  /** the open window, exact on top of the closed state */
  private openStatements = new Map<string, Maybe<Runs>>();
  private openPortals = new Map<string, Maybe<PortalValue>>();
  private openAllStatementsGone = false;
  private openAllPortalsGone = false;
  /** the open window's messages, folded into the closed state (uncertain) at its Sync */
  private openOps: Op[] = [];

  constructor(
    private readonly state: ServerState,
    pending: readonly Op[],
  ) {
    for (const op of pending) this.add(op);
  }

  /** Add a message in forward order (pending ones first, then the client's batch). */
  add(op: Op): void {
    if (op.k === 'S') {
      this.closeWindow();
      return;
    }
    this.openOps.push(op);
    this.applyExact(op);
  }

  /** What the portal an Execute names runs when that Execute runs. */
  resolve(portal: string): Resolution {
    const g = this.portal(portal, true);
    if (g === DIRTY) return { kind: 'wait' };
    return g.v === undefined ? { kind: 'absent' } : { kind: 'portal', value: g.v };
  }

  private closeWindow(): void {
    for (const op of this.openOps) this.applyUncertain(op);
    this.openOps = [];
    this.openStatements = new Map();
    this.openPortals = new Map();
    this.openAllStatementsGone = this.openAllPortalsGone = false;
    // After a Sync the transaction may have ended, and with it every portal.
    this.closedAllPortals = 'maybe-absent';
    for (const [k, v] of this.closedPortals) this.closedPortals.set(k, union(v, ABSENT, samePortal));
  }

  private closedStatement(name: string): Maybe<Runs> {
    const c = this.closedStatements.get(name);
    if (c !== undefined) return c;
    const s = this.state.statements.get(name);
    const base: Guess<Runs> = s === undefined ? ABSENT : known(s);
    return this.closedAllStatements === 'maybe-absent' && name !== '' ? union(base, ABSENT, sameRuns) : base;
  }

  private closedPortal(name: string): Maybe<PortalValue> {
    const c = this.closedPortals.get(name);
    if (c !== undefined) return c;
    const p = this.state.portals.get(name);
    const base: Guess<PortalValue> = p === undefined ? ABSENT : known(p);
    return this.closedAllPortals === 'maybe-absent' ? union(base, ABSENT, samePortal) : base;
  }

  private statement(name: string, open: boolean): Maybe<Runs> {
    if (open) {
      const o = this.openStatements.get(name);
      if (o !== undefined) return o;
      if (this.openAllStatementsGone && name !== '') return ABSENT;
    }
    return this.closedStatement(name);
  }

  private portal(name: string, open: boolean): Maybe<PortalValue> {
    if (open) {
      const o = this.openPortals.get(name);
      if (o !== undefined) return o;
      if (this.openAllPortalsGone) return ABSENT;
    }
    return this.closedPortal(name);
  }

  /** As if the message succeeded (true of every message before a running Execute in its window). */
  private applyExact(op: Op): void {
    switch (op.k) {
      case 'P':
        this.openStatements.set(op.name, known(op.runs));
        return;
      case 'B': {
        const s = this.statement(op.statement, true);
        this.openPortals.set(op.portal, s === DIRTY ? DIRTY : s.v === undefined ? ABSENT : known({ runs: s.v, params: op.params }));
        return;
      }
      case 'C':
        (op.target === 'S' ? this.openStatements : this.openPortals).set(op.name, ABSENT);
        return;
      case 'E':
        if (op.effect) this.applyEffect(op.effect, true);
        return;
      case 'Q':
      case 'F':
        // A query's statements may each fail without stopping the window: uncertain even here.
        this.applyUncertainTo(op, true);
        return;
    }
  }

  private applyUncertain(op: Op): void {
    this.applyUncertainTo(op, false);
  }

  /** As if the message may or may not have taken effect. */
  private applyUncertainTo(op: Op, open: boolean): void {
    const stmts = open ? this.openStatements : this.closedStatements;
    const portals = open ? this.openPortals : this.closedPortals;
    switch (op.k) {
      case 'P': {
        const prev = this.statement(op.name, open);
        if (op.name === '') {
          // an unnamed Parse always replaces (and drops the old one even when it fails)
          stmts.set('', union(union(prev, known(op.runs), sameRuns), ABSENT, sameRuns));
        } else if (prev !== DIRTY && !prev.maybeAbsent) {
          // the name certainly exists: this Parse fails, the old text stays
        } else {
          stmts.set(op.name, union(prev, known(op.runs), sameRuns));
        }
        return;
      }
      case 'B': {
        const prev = this.portal(op.portal, open);
        const s = this.statement(op.statement, open);
        const bound: Maybe<PortalValue> = s === DIRTY ? DIRTY : s.v === undefined ? ABSENT : known({ runs: s.v, params: op.params });
        if (op.portal === '') portals.set('', union(union(prev, bound, samePortal), UNKNOWN_PORTAL, samePortal));
        else if (prev !== DIRTY && !prev.maybeAbsent) {
          // the portal certainly exists: this Bind fails
        } else portals.set(op.portal, union(prev, bound, samePortal));
        return;
      }
      case 'C':
        if (op.target === 'S') stmts.set(op.name, union(this.statement(op.name, open), ABSENT, sameRuns));
        else portals.set(op.name, union(this.portal(op.name, open), ABSENT, samePortal));
        return;
      case 'E':
        if (op.effect) this.applyEffect(op.effect, open, true);
        return;
      case 'Q':
        for (const e of op.effects) if (e) this.applyEffect(e, open, true);
        stmts.set('', union(this.statement('', open), ABSENT, sameRuns));
        portals.set('', union(this.portal('', open), ABSENT, samePortal));
        return;
      default:
        return;
    }
  }

  private applyEffect(e: SessionEffect, open: boolean, uncertain = false): void {
    const stmts = open ? this.openStatements : this.closedStatements;
    const portals = open ? this.openPortals : this.closedPortals;
    const setStmt = (name: string, v: Maybe<Runs>) => stmts.set(name, uncertain ? union(this.statement(name, open), v, sameRuns) : v);
    const setPortal = (name: string, v: Maybe<PortalValue>) => portals.set(name, uncertain ? union(this.portal(name, open), v, samePortal) : v);
    if (e.prepare !== undefined) setStmt(e.prepare, known({ kind: 'prepared', name: e.prepare }));
    if (e.deallocate !== undefined) {
      if (e.deallocate !== '*') setStmt(e.deallocate, ABSENT);
      else this.allGone(stmts, uncertain, open, 'statements');
    }
    if (e.declare !== undefined) setPortal(e.declare, known({ runs: { kind: 'cursor', name: e.declare }, params: [] }));
    if (e.close !== undefined) {
      if (e.close !== '*') setPortal(e.close, ABSENT);
      else this.allGone(portals, uncertain, open, 'portals');
    }
  }

  /** DEALLOCATE ALL / CLOSE ALL / DISCARD ALL: certainly (open window) or maybe (uncertain). */
  private allGone(map: Map<string, Maybe<Runs>> | Map<string, Maybe<PortalValue>>, uncertain: boolean, open: boolean, what: 'statements' | 'portals'): void {
    const keep = (k: string) => what === 'statements' && k === ''; // DEALLOCATE ALL leaves the unnamed statement
    if (!uncertain && open) {
      if (what === 'statements') this.openAllStatementsGone = true;
      else this.openAllPortalsGone = true;
      const m = map as Map<string, Maybe<unknown>>;
      for (const k of m.keys()) if (!keep(k)) m.set(k, ABSENT);
      return;
    }
    // Maybe gone: every name known so far, and every name read later from the server's state.
    if (what === 'statements') this.closedAllStatements = 'maybe-absent';
    else this.closedAllPortals = 'maybe-absent';
    const maps = (what === 'statements' ? [this.openStatements, this.closedStatements] : [this.openPortals, this.closedPortals]) as Map<string, Maybe<unknown>>[];
    for (const m of maps) for (const [k, v] of m) if (!keep(k)) m.set(k, union(v, ABSENT, () => true));
  }
}
