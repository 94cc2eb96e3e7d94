// The in-process executor: MCP tools and `warden exec` run a statement through the pipeline
// and an engine's relay inside the gateway, for a caller the HTTP layer authenticated, and
// get the Decision and the masked result back as data (no wire error to parse, no record to
// read back). Sessions record their real front door (`mcp`, `exec`), which no client can
// claim: the network doors only ever open `postgres` and `mysql` sessions.
import { hash } from 'node:crypto';
import type { Identity } from '../identity/types.ts';
import type { ConnectionConfig } from '../config/schema.ts';
import type { Admission, AdmissionRefusal } from '../session/admission.ts';
import type { Decision } from '../session/types.ts';
import { StatementTimeout, TargetError, type Engine, type InProcessSession, type QueryCaps, type RunRows } from '../protocols/engine.ts';

export type ExecRefusal =
  | AdmissionRefusal
  | { kind: 'blocked'; message: string }
  | { kind: 'review'; reviewId: string; message: string }
  | { kind: 'target'; message: string; code: string | null; detail: string | null; hint: string | null }
  | { kind: 'timeout'; message: string }
  | { kind: 'unreachable'; message: string };

export type ExecOutcome = { ok: true; result: RunRows; maskedColumns: string[]; sessionId: string } | { ok: false; refusal: ExecRefusal };

export interface ExecRequest {
  identity: Identity;
  connection: string;
  sql: string;
  params?: unknown[];
  caps: QueryCaps;
  frontDoor: 'mcp' | 'exec';
  clientAddr: string;
  /** statements with the same key share one session (MCP: the caller's credential); absent: a session for this call */
  sessionKey?: string;
}

/** What one call saw of its session's pipeline. */
interface CallState {
  refusal: Extract<Decision, { action: 'block' | 'review' }> | null;
  masked: Set<string>;
}

interface Entry {
  session: InProcessSession;
  sessionId: string;
  call: CallState;
  /** statements on one session run one at a time */
  chain: Promise<unknown>;
  /** calls queued or running: the idle timer runs only when there are none */
  busy: number;
  timer: NodeJS.Timeout | null;
}

export interface ExecutorDeps {
  admission: Admission<ConnectionConfig>;
  engine(type: string): Engine | undefined;
  /** a shared session ends after this long without a statement */
  idleMs: number;
}

export class InProcessExecutor {
  private readonly entries = new Map<string, Promise<Entry>>();

  constructor(private readonly deps: ExecutorDeps) {}

  async run(req: ExecRequest): Promise<ExecOutcome> {
    const key = req.sessionKey === undefined ? null : `${hash('sha256', req.sessionKey, 'hex')}\n${req.identity.subject}\n${req.connection}`;
    let pending = key ? this.entries.get(key) : undefined;
    if (!pending) {
      pending = this.open(req);
      if (key) {
        this.entries.set(key, pending);
        pending.catch(() => this.entries.delete(key));
      }
    }
    let e: Entry;
    try {
      e = await pending;
    } catch (err) {
      return { ok: false, refusal: err instanceof Refused ? err.refusal : { kind: 'unreachable', message: (err as Error).message } };
    }
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    e.busy++;
    const run = e.chain.then(() => this.query(e, req));
    e.chain = run.catch(() => {});
    try {
      return await run;
    } finally {
      e.busy--;
      if (!key || e.session.closed) {
        if (key && this.entries.get(key) === pending) this.entries.delete(key);
        await e.session.close();
      } else if (e.busy === 0) e.timer = setTimeout(() => void this.drop(key), this.deps.idleMs).unref();
    }
  }

  private async open(req: ExecRequest): Promise<Entry> {
    const answer = await this.deps.admission.admit({ credential: { kind: 'identity', identity: req.identity }, connection: req.connection, type: '*', clientAddr: req.clientAddr, frontDoor: req.frontDoor });
    if (!answer.ok) throw new Refused(answer.refusal);
    const engine = this.deps.engine(answer.connection.type);
    if (!engine) {
      const how = answer.connection.type === 'exec' ? `: pass its arguments instead (warden exec ${req.connection} -- <args>)` : '';
      throw new Refused({ kind: 'unknown_connection', message: `connection "${req.connection}" is of type ${answer.connection.type}, which runs no statements here${how}` });
    }
    const entry = { sessionId: '', call: { refusal: null, masked: new Set() }, chain: Promise.resolve(), busy: 0, timer: null } as Omit<Entry, 'session'> as Entry;
    entry.session = await engine.open({
      identity: answer.identity, connection: answer.connection, protocol: req.frontDoor, clientAddr: req.clientAddr,
      observer: {
        opened: (info) => (entry.sessionId = info.id),
        decided: (_cmd, d) => {
          if (d.action !== 'allow' && !entry.call.refusal) entry.call.refusal = d;
        },
        resulted: (_id, summary) => {
          for (const c of summary.maskedColumns ?? []) entry.call.masked.add(c);
        },
      },
    });
    return entry;
  }

  private async query(e: Entry, req: ExecRequest): Promise<ExecOutcome> {
    e.call = { refusal: null, masked: new Set() };
    try {
      const result = await e.session.query(req.sql, req.params, req.caps);
      return { ok: true, result, maskedColumns: [...e.call.masked], sessionId: e.sessionId };
    } catch (err) {
      // The pipeline's own answer first: a refusal is not the target's error.
      const d = e.call.refusal;
      if (d?.action === 'block') return { ok: false, refusal: { kind: 'blocked', message: d.reason } };
      if (d?.action === 'review') return { ok: false, refusal: { kind: 'review', reviewId: d.reviewId, message: d.message } };
      if (err instanceof StatementTimeout) return { ok: false, refusal: { kind: 'timeout', message: err.message } };
      if (err instanceof TargetError) return { ok: false, refusal: { kind: 'target', message: err.message, code: err.code, detail: err.detail, hint: err.hint } };
      return { ok: false, refusal: { kind: 'unreachable', message: (err as Error).message } };
    }
  }

  private async drop(key: string): Promise<void> {
    const p = this.entries.get(key);
    this.entries.delete(key);
    const e = await p?.catch(() => null);
    await e?.session.close();
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((k) => this.drop(k)));
  }
}

class Refused extends Error {
  constructor(readonly refusal: AdmissionRefusal) {
    super(refusal.message);
  }
}
