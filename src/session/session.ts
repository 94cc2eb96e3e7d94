// The one object every protocol engine talks to. It asks the guard for a decision,
// records the command (durably, before it may run, in strict mode), records results,
// and closes the session record. Engines never write records or judge commands.
import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '../audit/types.ts';
import type { Command, Decision, ResultColumn, ResultSummary, SessionInfo, SessionObserver, TargetFacts } from './types.ts';
import type { Identity } from '../identity/types.ts';
import type { Masker } from '../masking/index.ts';
import { seal } from '../audit/sealed.ts';
import { Encoded } from '../audit/canonical.ts';

export interface EventSink {
  append(e: AuditEventInput, opts?: { durable?: boolean }): Promise<unknown>;
  /** append without a promise, for records nobody waits for (AuditLog.post) */
  post?(e: AuditEventInput, onError: (e: Error) => void): void;
  /** a durable append whose caller needs it on disk, not its seq (AuditLog.persist) */
  persist?(e: AuditEventInput): Promise<void>;
}

/** What the guard (rules, reviews; a later layer) says of one command. */
export interface Verdict {
  action: 'allow' | 'block' | 'review';
  reason?: string;
  rule?: string;
  reviewId?: string;
  /** facts worth keeping with the record (statement kinds, tables...) */
  facts?: Record<string, unknown>;
  /** the same facts encoded once (a cached verdict), recorded in place of `facts` */
  factsEncoded?: Encoded;
}

/** Judges the commands of one session (it may keep per-session state, e.g. prepared statements). */
export interface SessionGuard {
  judge(command: Command): Verdict | Promise<Verdict>;
  /** what judging it would say, with no side effect (no review opened): for a statement being prepared */
  preview?(command: Command): Verdict | Promise<Verdict>;
}

export interface Guard {
  /** `target`: what the engine can tell about the target (its functions), when it can */
  open(session: SessionInfo, target?: TargetFacts): SessionGuard;
}

export const allowAll: Guard = { open: () => ({ judge: () => ({ action: 'allow' }) }) };

/**
 * Is the session's credential still good? Asked before each command. `version` moves
 * whenever anything is revoked, so a session looks its credential up again only then:
 * one integer compare per command otherwise, no allocation.
 */
export interface CredentialCheck {
  readonly version: number;
  isRevoked(identity: Identity): boolean;
}

const DONE = Promise.resolve();

// Engines hand the same column list for results of the same shape (see the Postgres
// ResponseTracker): encode it once.
const columnsEncoded = new WeakMap<ResultColumn[], Encoded>();
function encodedColumns(columns: ResultColumn[]): Encoded {
  let e = columnsEncoded.get(columns);
  if (!e) columnsEncoded.set(columns, (e = new Encoded(columns)));
  return e;
}

const REVOKED = 'the access token of this session was revoked; reconnect with a valid token';
const expiredMessage = (at: number) => `the access token of this session expired at ${new Date(at).toISOString()}; reconnect with a fresh token`;

export interface SessionDeps {
  events: EventSink;
  /** revocation check per command (absent: the credential is only checked at admission) */
  credentials?: CredentialCheck;
  /** end the session at its first command after the credential's expiry (auth.endSessionsOnExpiry) */
  endOnExpiry?: boolean;
  mode: 'strict' | 'async';
  guard: Guard;
  /** the connection's masker: results are masked before they reach the client or the record */
  masker: Masker | null;
  /** key that seals the originals of masked values (masking.keepOriginals); null: never kept */
  originalsKey?: Buffer | null;
  /** called when an asynchronous record could not be written (logged by the gateway) */
  onRecordError: (e: unknown) => void;
  /** what the engine can tell the guard about the target (see TargetFacts) */
  target?: TargetFacts;
  /** told each Decision and result (the in-process executor) */
  observer?: SessionObserver;
}

export class Session {
  private counter = 0;
  private ended = false;
  private endedBecause = 'the session has ended';
  /** -1: the first command always checks (a revocation may land between admission and start) */
  private credentialVersion = -1;
  private readonly guard: SessionGuard;
  /** engines' hooks that close the client's live connection when the session is ended from outside */
  private closers: ((reason: string) => void)[] = [];
  commands = 0;

  constructor(
    readonly info: SessionInfo,
    private readonly deps: SessionDeps,
  ) {
    this.guard = deps.guard.open(info, deps.target);
  }

  static newId(): string {
    return randomUUID();
  }

  /** Record the session's start; durable in strict mode so no command precedes it. */
  async start(): Promise<void> {
    const { identity } = this.info;
    await this.record(
      {
        type: 'session.start',
        data: {
          connection: this.info.connection,
          connectionType: this.info.connectionType,
          protocol: this.info.protocol,
          clientAddr: this.info.clientAddr,
          identity: { kind: identity.kind, subject: identity.subject, name: identity.name, groups: identity.groups },
          attributes: this.info.attributes ?? {},
        },
      },
      this.deps.mode === 'strict',
    );
    this.deps.observer?.opened?.(this.info);
  }

  /**
   * Judge and record one command. It resolves only once the record is stored (strict
   * mode); when recording fails the command is blocked, never run unrecorded.
   */
  async command(cmd: Command): Promise<Decision> {
    if (this.ended) return this.told(cmd, { action: 'block', commandId: '', reason: this.endedBecause });
    const commandId = `${this.info.id}:${++this.counter}`;
    let verdict: Verdict;
    const revoked = this.credentialProblem(); // why the credential no longer holds
    if (revoked !== null) verdict = { action: 'block', reason: revoked };
    else {
      try {
        verdict = await this.guard.judge(cmd);
      } catch (e) {
        verdict = { action: 'block', reason: `the command could not be judged: ${(e as Error).message}` };
      }
    }
    this.commands++;
    const data: Record<string, unknown> = { commandId, text: cmd.text, decision: verdict.action };
    if (cmd.params) data.params = cmd.params;
    if (cmd.via) data.via = cmd.via;
    if (cmd.opaque) data.opaque = cmd.opaque;
    if (verdict.reason) data.reason = verdict.reason;
    if (verdict.rule) data.rule = verdict.rule;
    if (verdict.reviewId) data.reviewId = verdict.reviewId;
    if (verdict.facts) data.facts = verdict.factsEncoded ?? verdict.facts;
    const durable = verdict.action === 'allow' && this.deps.mode === 'strict';
    try {
      await this.record({ type: 'command', data }, durable);
    } catch (e) {
      return this.told(cmd, { action: 'block', commandId, reason: `the command was not run because it could not be recorded (${(e as Error).message})` });
    }
    if (revoked !== null) {
      // Every later command gets the same answer; the record shows why the session ended.
      await this.end(revoked === REVOKED ? 'credential revoked' : 'credential expired');
      this.endedBecause = revoked;
    }
    const decision: Decision =
      verdict.action === 'allow'
        ? { action: 'allow', commandId }
        : verdict.action === 'review'
          ? { action: 'review', commandId, reviewId: verdict.reviewId ?? '', message: verdict.reason ?? 'this command needs approval' }
          : { action: 'block', commandId, reason: verdict.reason ?? 'blocked by policy' };
    return this.told(cmd, decision);
  }

  /**
   * Why the session's credential no longer holds (revoked; expired, when sessions end on
   * expiry), or null. Asked before each command, and by engines whose sessions carry traffic
   * that is no command (a WebSocket's messages).
   */
  credentialProblem(): string | null {
    const cc = this.deps.credentials;
    if (cc !== undefined && cc.version !== this.credentialVersion) {
      this.credentialVersion = cc.version;
      if (cc.isRevoked(this.info.identity)) return REVOKED;
    }
    const expiresAt = this.info.identity.expiresAt;
    if (expiresAt !== undefined && this.deps.endOnExpiry && Date.now() >= expiresAt) return expiredMessage(expiresAt);
    return null;
  }

  /**
   * A statement about to be prepared (Postgres Parse), checked before the target sees it:
   * when running it would be blocked, the refusal is recorded and returned, so a blocked
   * statement is never prepared. Otherwise null: it is judged (and recorded) when it runs.
   */
  async check(cmd: Command): Promise<Decision | null> {
    if (this.ended || !this.guard.preview) return null;
    let verdict: Verdict;
    try {
      verdict = await this.guard.preview(cmd);
    } catch (e) {
      verdict = { action: 'block', reason: `the command could not be judged: ${(e as Error).message}` };
    }
    if (verdict.action !== 'block') return null;
    const commandId = `${this.info.id}:${++this.counter}`;
    this.commands++;
    const data: Record<string, unknown> = { commandId, text: cmd.text, decision: 'block', reason: verdict.reason ?? 'blocked by policy' };
    if (cmd.via) data.via = cmd.via;
    if (verdict.rule) data.rule = verdict.rule;
    if (verdict.facts) data.facts = verdict.factsEncoded ?? verdict.facts;
    await this.record({ type: 'command', data }, false);
    const decision: Decision = { action: 'block', commandId, reason: verdict.reason ?? 'blocked by policy' };
    return this.told(cmd, decision);
  }

  /** Record what a command returned (rows already masked and capped by the engine). */
  result(commandId: string, summary: ResultSummary): void {
    const data: Record<string, unknown> = { commandId, rowCount: summary.rowCount, durationMs: summary.durationMs };
    if (summary.tag !== undefined) data.tag = summary.tag;
    if (summary.columns) data.columns = encodedColumns(summary.columns);
    if (summary.rows) data.rows = summary.rows;
    if (summary.truncated) data.truncated = true;
    if (summary.maskedColumns?.length) data.maskedColumns = summary.maskedColumns;
    if (summary.originals && this.deps.originalsKey) data.originals = seal(this.deps.originalsKey, summary.originals, `${this.info.id}/${commandId}`);
    if (summary.error) data.error = summary.error;
    if (summary.usage) data.usage = summary.usage;
    if (summary.transfer) data.transfer = summary.transfer;
    void this.record({ type: 'result', data }, false);
    this.deps.observer?.resulted?.(commandId, summary);
  }

  /** Close the session record; later calls are ignored. */
  async end(reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.record({ type: 'session.end', data: { reason, commands: this.commands } }, false).catch(this.deps.onRecordError);
  }

  /**
   * End the session from outside (an admin, in the console): recorded with `reason`, and
   * every later command is refused with it. Engines holding a live connection registered a
   * closer (onTerminate) and close the client now; others watch `isEnded` at the next command.
   */
  async terminate(reason: string): Promise<void> {
    if (this.ended) return;
    this.endedBecause = reason;
    await this.end(reason);
    const closers = this.closers;
    this.closers = [];
    for (const close of closers) {
      try {
        close(reason);
      } catch (e) {
        this.deps.onRecordError(e);
      }
    }
  }

  /**
   * `close` runs when the session is ended from outside: it tells the client why and closes
   * the connection (both legs), so a client idle between commands is not left connected.
   */
  onTerminate(close: (reason: string) => void): void {
    if (this.ended) return;
    this.closers.push(close);
  }

  /** The masker engines apply to results as they stream (null: masking off). */
  get masker(): Masker | null {
    return this.deps.masker;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private told(cmd: Command, decision: Decision): Decision {
    this.deps.observer?.decided?.(cmd, decision);
    return decision;
  }

  private record(e: Omit<AuditEventInput, 'sessionId' | 'actor'>, durable: boolean): Promise<unknown> {
    const event: AuditEventInput = { type: e.type, data: e.data, sessionId: this.info.id, actor: this.info.identity.name };
    const events = this.deps.events;
    if (durable) return events.persist ? events.persist(event) : events.append(event, { durable });
    if (events.post) events.post(event, this.deps.onRecordError);
    else events.append(event, { durable }).catch(this.deps.onRecordError);
    return DONE;
  }
}
