// The gateway's view of its remote agents: which are connected, over which tunnels, and
// a Dialer per agent name that the AgentRouter holds while at least one tunnel is up.
// Several processes may run with the same agent token (a rolling restart, or two for
// availability); dials go to the newest live tunnel.
import type { Duplex } from 'node:stream';
import { DialError, type AgentRouter, type Dialer, type DialTarget } from './dialer.ts';
import type { Tunnel } from './tunnel.ts';
import { EXEC_VERSION, failed, type ExecProcess, type ExecSpec } from './exec-spawn.ts';
import { remoteExec } from './exec-wire.ts';

/** The group that makes an API key an agent token. */
export const AGENT_GROUP = 'warden-agent';

export interface AgentMeta {
  version: string;
  hostname: string;
  clientAddr: string;
  /** the exec spec version the agent runs (0: it runs none: older, or started with --no-exec) */
  exec: number;
}

export interface AgentStatus {
  name: string;
  status: 'connected' | 'disconnected';
  /** ISO time of the last frame from the agent (or of its disconnect) */
  lastSeen: string | null;
  version: string | null;
  hostname: string | null;
  connectedAt: string | null;
  /** tunnels (agent processes) connected under this name */
  tunnels: number;
  streams: number;
  rttMs: number | null;
  lastError: string | null;
}

interface Connected extends AgentMeta {
  tunnel: Tunnel;
  connectedAt: number;
}

class Agent implements Dialer {
  readonly live: Connected[] = [];
  lastSeen = 0;
  lastMeta: AgentMeta | null = null;
  lastError: string | null = null;

  constructor(
    readonly name: string,
    private readonly dialTimeoutMs: number,
  ) {}

  async dial(target: DialTarget): Promise<Duplex> {
    const c = this.live.at(-1);
    if (!c) throw new DialError(`agent "${this.name}" is not connected`);
    try {
      return await c.tunnel.openStream(target.host, target.port, this.dialTimeoutMs);
    } catch (e) {
      const msg = (e as Error).message;
      throw new DialError(msg.startsWith(`agent "${this.name}"`) ? msg : `agent "${this.name}": ${msg}`);
    }
  }

  async exec(spec: ExecSpec): Promise<ExecProcess> {
    const c = this.live.at(-1);
    if (!c) throw new DialError(`agent "${this.name}" is not connected`);
    if (c.exec !== EXEC_VERSION) {
      return failed(c.exec === 0
        ? `agent "${this.name}" (version ${c.version}) does not run exec connections: upgrade it, or start it without --no-exec`
        : `agent "${this.name}" runs exec spec version ${c.exec}, the gateway sends ${EXEC_VERSION}: run the same Warden version on both`);
    }
    try {
      return remoteExec(await c.tunnel.openExec(EXEC_VERSION, this.dialTimeoutMs), spec, `agent "${this.name}"`);
    } catch (e) {
      const msg = (e as Error).message;
      throw new DialError(msg.startsWith(`agent "${this.name}"`) ? msg : `agent "${this.name}": ${msg}`);
    }
  }
}

export class AgentRegistry {
  private readonly agents = new Map<string, Agent>();

  constructor(
    private readonly router: AgentRouter,
    private readonly dialTimeoutMs = 10_000,
  ) {}

  /** Route dials for `name` through this tunnel until it closes. */
  attach(name: string, tunnel: Tunnel, meta: AgentMeta): void {
    let agent = this.agents.get(name);
    if (!agent) this.agents.set(name, (agent = new Agent(name, this.dialTimeoutMs)));
    const conn: Connected = { ...meta, tunnel, connectedAt: Date.now() };
    agent.live.push(conn);
    agent.lastMeta = meta;
    agent.lastSeen = Date.now();
    this.router.register(name, agent);
    const a = agent;
    tunnel.on('close', (reason) => {
      const i = a.live.indexOf(conn);
      if (i >= 0) a.live.splice(i, 1);
      a.lastSeen = Math.max(a.lastSeen, tunnel.lastSeen);
      a.lastError = reason;
      if (a.live.length === 0) this.router.unregister(name, a);
    });
  }

  /** Drop every tunnel of `name` (its token was revoked). */
  disconnect(name: string, reason: string, code = 4001): number {
    const live = [...(this.agents.get(name)?.live ?? [])];
    for (const c of live) c.tunnel.close(reason, code);
    return live.length;
  }

  tunnels(): { name: string; tunnel: Tunnel }[] {
    return [...this.agents.values()].flatMap((a) => a.live.map((c) => ({ name: a.name, tunnel: c.tunnel })));
  }

  status(name: string): AgentStatus {
    const a = this.agents.get(name);
    const newest = a?.live.at(-1);
    const lastSeen = a ? Math.max(a.lastSeen, ...a.live.map((c) => c.tunnel.lastSeen)) : 0;
    return {
      name,
      status: newest ? 'connected' : 'disconnected',
      lastSeen: lastSeen ? new Date(lastSeen).toISOString() : null,
      version: a?.lastMeta?.version ?? null,
      hostname: a?.lastMeta?.hostname ?? null,
      connectedAt: newest ? new Date(newest.connectedAt).toISOString() : null,
      tunnels: a?.live.length ?? 0,
      streams: a ? a.live.reduce((n, c) => n + c.tunnel.openStreams, 0) : 0,
      rttMs: newest?.tunnel.rttMs ?? null,
      lastError: newest ? null : (a?.lastError ?? null),
    };
  }

  /** Agents seen since the gateway started. */
  names(): string[] {
    return [...this.agents.keys()];
  }

  closeAll(reason: string): void {
    for (const { tunnel } of this.tunnels()) tunnel.close(reason);
  }
}
