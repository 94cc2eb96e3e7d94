// The contract between protocol engines and the session pipeline. An engine turns its
// wire format into Commands going out and Results coming back; it owns no policy.
import type { Identity } from '../identity/types.ts';
import type { ForwardFacts, GitCommandFacts, HttpRequestFacts } from '../sql/types.ts';

export type Protocol = 'postgres' | 'mysql' | 'http' | 'ssh' | 'git' | 'exec' | 'mcp';

export interface SessionInfo {
  id: string;
  identity: Identity;
  connection: string;
  connectionType: string;
  protocol: Protocol;
  clientAddr: string;
  startedAt: number;
  /** free-form facts of the front door: application_name, client TLS, database... */
  attributes?: Record<string, string>;
}

export interface Command {
  /** the command as the target will see it (SQL text, shell line, HTTP request line) */
  text: string;
  /** bound parameters of a prepared statement, as text; null for SQL NULL */
  params?: (string | null)[];
  /** how it arrived: simple query, extended (Parse/Bind/Execute), exec, ... */
  via?: string;
  /**
   * The engine could not see what runs (a name it cannot resolve, a fast-path call of an
   * unknown function): the reason. The command is judged as opaque (onUnknown), never as its text.
   */
  opaque?: string;
  /**
   * The schemas the target resolves unqualified names to in this session, in order; null
   * when the engine cannot know them now; absent when rules do not need them.
   */
  searchPath?: readonly string[] | null;
  /**
   * How the target reads the text in this session, for dialects where that depends on the
   * session (MySQL: MariaDB or MySQL grammar, sql_mode, the client character set); null
   * when the engine cannot know it now (the command is then judged opaque).
   */
  syntax?: { dialect: 'mysql' | 'mariadb'; sqlMode: string; charset: string } | null;
  /** an HTTP request's headers and (when a rule needs it) its JSON body */
  http?: HttpRequestFacts;
  /** a Git request's operation, repository and (a push's) ref updates */
  git?: GitCommandFacts;
  /** an exec connection's command: the program's name and the caller's arguments, as they run */
  argv?: readonly string[];
  /** aborted when the client gives up on the command before it ran (a Postgres CancelRequest): a wait for approval ends */
  signal?: AbortSignal;
  /** set by the SSH door only: the command is a forwarded connection, judged by these facts, not its text */
  forward?: ForwardFacts;
  /**
   * A file operation of an SFTP or SCP session (ssh connections): each entry one operation's
   * words, `['put', '/etc/hosts']`, `['rename', '/tmp/a', '/etc/a']`, judged in place of the text.
   */
  file?: { ops: string[][] };
}

/** What the target says of a function a command calls. */
export interface FunctionFacts {
  /**
   * True only for a function built into the target that nothing defined in the database
   * can shadow (an unqualified name that a database-defined function also has is not).
   */
  isBuiltin(ref: { schema?: string; name: string }): boolean;
  /** the schemas where the database defines a function of this name ([] when none is known) */
  schemasOf(name: string): readonly string[];
}

/** Facts about the target an engine gives the session's guard (loaded lazily, cached). */
export interface TargetFacts {
  /** never rejects: when the target cannot be asked, nothing counts as built in */
  functions(): FunctionFacts | Promise<FunctionFacts>;
}

export type Decision =
  | { action: 'allow'; commandId: string }
  | { action: 'block'; commandId: string; reason: string }
  | { action: 'review'; commandId: string; reviewId: string; message: string };

export interface ResultColumn {
  name: string;
  /** type name or OID as the protocol gives it */
  type?: string | number;
}

export interface ResultSummary {
  columns?: ResultColumn[];
  /** rows kept for the record (already masked), at most the configured cap */
  rows?: (string | null)[][];
  rowCount: number;
  /** true when rows were left out of the record because of the cap */
  truncated?: boolean;
  /** unmasked values of masked rows by row index (keepOriginals only); sealed before recording */
  originals?: Record<number, (string | null)[]>;
  /** columns in which at least one value was masked */
  maskedColumns?: string[];
  /** command tag (`SELECT 1`) or status line */
  tag?: string;
  /** error text when the command failed */
  error?: { code?: string; message: string };
  durationMs: number;
  /** LLM token usage of an http request (src/protocols/http/llm) */
  usage?: object;
  /** a file transfer of an SFTP or SCP session: what moved, never its bytes */
  transfer?: TransferFacts;
}

export interface TransferFacts {
  path: string;
  direction: 'upload' | 'download';
  bytes: number;
  /** sha256 (hex) of the bytes, when they passed at sequential offsets from 0; null: not known */
  sha256: string | null;
  /** ok; failed (the target said no); capped (stopped at the size cap); incomplete (the channel ended first) */
  status: 'ok' | 'failed' | 'capped' | 'incomplete';
}

/**
 * Who ran the session wants its Decisions and masked results as data (the in-process
 * executor behind MCP tools and `warden exec`), not as wire errors to parse back.
 */
export interface SessionObserver {
  /** the session is open (its id names it in the record) */
  opened?(info: SessionInfo): void;
  /** each command's Decision, as the session hands it to the engine */
  decided?(command: Command, decision: Decision): void;
  /** each result, as recorded (already masked) */
  resulted?(commandId: string, summary: ResultSummary): void;
}

/** What an engine hands the pipeline when it opens a session, besides who and where. */
export interface SessionExtras {
  target?: TargetFacts;
  observer?: SessionObserver;
}

export type OpenSession = (info: Omit<SessionInfo, 'id' | 'startedAt'>, extras?: SessionExtras) => Promise<import('./session.ts').Session>;
