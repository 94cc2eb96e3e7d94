// The dialer gives an engine a byte stream to a target. The embedded agent dials from
// this process; a remote agent carries the stream over its tunnel (./agents.ts registers
// one here while it is connected). Engines only see this interface, so none of them
// knows which one it has.
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { spawnLocal, type ExecProcess, type ExecSpec } from './exec-spawn.ts';

export interface DialTarget {
  host: string;
  port: number;
  /** name of the agent that reaches the target; "embedded" is this process */
  agent: string;
}

export interface Dialer {
  dial(target: DialTarget): Promise<Duplex>;
  /** run a command of an exec connection where this dialer's agent is (exec-spawn.ts) */
  exec?(spec: ExecSpec): Promise<ExecProcess>;
}

export class DialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DialError';
  }
}

/** Dials straight from the gateway process (and runs exec commands in it). */
export class EmbeddedDialer implements Dialer {
  constructor(private readonly timeoutMs = 10_000) {}

  exec(spec: ExecSpec): Promise<ExecProcess> {
    return Promise.resolve(spawnLocal(spec));
  }

  dial(target: DialTarget): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: target.host, port: target.port, noDelay: true });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new DialError(`timed out connecting to ${target.host}:${target.port}`));
      }, this.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.setKeepAlive(true, 30_000);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new DialError(`cannot connect to ${target.host}:${target.port}: ${e.code ?? e.message}`));
      });
    });
  }
}

/** Routes each dial to the agent the connection names. */
export class AgentRouter implements Dialer {
  private readonly agents = new Map<string, Dialer>();

  constructor(embedded: Dialer) {
    this.agents.set('embedded', embedded);
  }

  register(name: string, dialer: Dialer): void {
    this.agents.set(name, dialer);
  }

  /** Remove `name`, but only if it is still this dialer (a newer one may have replaced it). */
  unregister(name: string, dialer: Dialer): void {
    if (this.agents.get(name) === dialer) this.agents.delete(name);
  }

  has(name: string): boolean {
    return this.agents.has(name);
  }

  dial(target: DialTarget): Promise<Duplex> {
    const d = this.agents.get(target.agent);
    if (!d) return Promise.reject(new DialError(`agent "${target.agent}" is not connected`));
    return d.dial(target);
  }

  /** Run a command where agent `agent` is; rejects with a DialError when it cannot be reached. */
  execOn(agent: string, spec: ExecSpec): Promise<ExecProcess> {
    const d = this.agents.get(agent);
    if (!d) return Promise.reject(new DialError(`agent "${agent}" is not connected`));
    if (!d.exec) return Promise.reject(new DialError(`agent "${agent}" does not run exec connections`));
    return d.exec(spec);
  }
}
