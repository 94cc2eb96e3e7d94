// Port and agent forwarding through the SSH door, off unless a rule allows it
// (`match.forwarding`, src/policy/ssh-forwarding.ts). Every forwarded connection is a command
// of the caller's session, judged and recorded before a byte is relayed; its result records
// the destination, the bytes each way and how long it lasted, so forwarding cannot hide traffic.
//  - local (ssh -L, -D: direct-tcpip): the gateway opens a direct-tcpip channel on its own
//    session to the target, so the connection is made from the target, as with OpenSSH;
//  - remote (ssh -R: tcpip-forward): the target listens, through the gateway's session; each
//    connection it gets is judged again and sent to the caller as a forwarded-tcpip channel;
//  - agent (ssh -A): once allowed, the gateway's sessions to the target ask for agent
//    forwarding, and each agent channel the target opens is judged and bridged to the caller's.
// A decision other than allow refuses the channel (a caller cannot wait on a channel open): the
// record and the log name the review when it is one. Unix-socket forwarding and X11 stay refused.
import { duplexPair, type Duplex } from 'node:stream';
import type { AcceptConnection, Client, ClientChannel, Connection, RejectConnection, ServerChannel, TcpConnectionDetails, TcpipBindInfo, TcpipRequestInfo } from 'ssh2';
import type { Logger } from 'pino';
import type { Decision } from '../../session/types.ts';
import type { ForwardFacts } from '../../sql/types.ts';
import { describeForward, forwardHost } from '../../policy/ssh-forwarding.ts';
import type { ChannelContext } from './exec.ts';
import { relayCounted, type Relayed } from './forward-relay.ts';
import { forwardAgentOn, openCallerAgent } from './agent-bridge.ts';
import { refuseChannel } from './channel-refusal.ts';

const COLUMNS = [{ name: 'destination' }, { name: 'bytesFromCaller' }, { name: 'bytesToCaller' }];

/** A port the target listens on for the caller (ssh -R), as the caller asked for it. */
interface Bind {
  addr: string;
  /** as asked (0: the target chose) */
  port: number;
  /** the port the target listens on */
  bound: number;
  commandId: string;
  started: number;
  connections: number;
  upstream: Client;
}

export class Forwarding {
  private readonly binds = new Map<string, Bind>();
  /** upstream clients whose incoming connections are handled here */
  private readonly hooked = new WeakSet<Client>();
  /** agent forwarding: null until asked; then whether it was allowed */
  private agentAsked: Promise<boolean> | null = null;

  constructor(
    private readonly caller: Connection,
    private readonly ctxP: Promise<ChannelContext>,
    private readonly log: Logger,
  ) {
    caller.once('close', () => {
      for (const b of this.binds.values()) this.unbound(b, 'the caller disconnected');
      this.binds.clear();
    });
  }

  /**
   * The channel context the session channels use: their login to the target waits for an
   * agent-forwarding request still being judged (OpenSSH sends it just before the exec, with
   * no reply wanted), and asks for agent forwarding when it was allowed.
   */
  context(): Promise<ChannelContext> {
    const p = this.ctxP.then((ctx) => ({
      ...ctx,
      upstream: async () => {
        const allowed = this.agentAsked ? await this.agentAsked : false;
        const up = await ctx.upstream();
        if (allowed) forwardAgentOn(up, (cb) => this.agentChannel(cb));
        return up;
      },
    }));
    // a session that could not be opened is handled where it is made (door.ts); no channel may be waiting
    p.catch(() => {});
    return p;
  }

  /** ssh -L (and -D): a direct-tcpip channel to host:port, opened from the target. */
  local(accept: AcceptConnection<ServerChannel>, reject: RejectConnection, info: TcpipRequestInfo): void {
    const facts: ForwardFacts = { kind: 'local', host: info.destIP, port: info.destPort };
    void this.ctxP
      .then(async (ctx) => {
        const started = Date.now();
        const d = await this.judge(ctx, facts, 'direct-tcpip');
        if (d.action !== 'allow') return refuseChannel(this.caller, reject, refusal(d));
        const fail = (message: string) => {
          ctx.session.result(d.commandId, { columns: COLUMNS, rows: [[destination(facts), '0', '0']], rowCount: 0, error: { message }, durationMs: Date.now() - started });
          reject();
        };
        let up: Client;
        try {
          up = await ctx.upstream();
        } catch (e) {
          return fail(`cannot reach the target: ${(e as Error).message}`);
        }
        try {
          up.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, target) => {
            if (err) return fail(`the target could not connect to ${destination(facts)}: ${err.message}`);
            this.relay(ctx, d.commandId, started, facts, accept(), target);
          });
        } catch (e) {
          // ssh2 throws when the connection to the target has just gone
          fail(`cannot reach the target: ${(e as Error).message}`);
        }
      })
      .catch((e: Error) => this.failed(e, reject));
  }

  /** Global requests: ssh -R binds and their cancellation; unix-socket forwarding is refused. */
  request(accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, name: string, info: TcpipBindInfo): void {
    if (name === 'tcpip-forward') return this.bind(accept, reject, info);
    if (name === 'cancel-tcpip-forward') return this.cancel(accept, reject, info);
    this.log.info({ request: name }, 'ssh global request refused');
    reject?.();
  }

  /** ssh -A: the auth-agent request of a session channel. */
  agent(accept: (() => void) | undefined, reject: (() => void) | undefined): void {
    this.agentAsked ??= this.ctxP
      .then(async (ctx) => {
        const started = Date.now();
        const d = await this.judge(ctx, { kind: 'agent' }, 'auth-agent-req');
        if (d.action === 'allow') ctx.session.result(d.commandId, { rowCount: 0, tag: 'agent forwarding on', durationMs: Date.now() - started });
        return d.action === 'allow';
      })
      .catch((e: Error) => {
        this.log.error({ err: e.message }, 'ssh agent forwarding could not be judged');
        return false;
      });
    void this.agentAsked.then((allowed) => (allowed ? accept?.() : reject?.()));
  }

  private bind(accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, info: TcpipBindInfo): void {
    const facts: ForwardFacts = { kind: 'remote', host: info.bindAddr, port: info.bindPort };
    const no = () => reject?.();
    void this.ctxP
      .then(async (ctx) => {
        const started = Date.now();
        const d = await this.judge(ctx, facts, 'tcpip-forward');
        if (d.action !== 'allow') return no();
        const fail = (message: string) => {
          ctx.session.result(d.commandId, { rowCount: 0, error: { message }, durationMs: Date.now() - started });
          no();
        };
        let up: Client;
        try {
          up = await ctx.upstream();
        } catch (e) {
          return fail(`cannot reach the target: ${(e as Error).message}`);
        }
        this.hook(up);
        try {
          up.forwardIn(info.bindAddr, info.bindPort, (err, bound) => {
            if (err) return fail(`the target refused to listen on ${destination(facts)}: ${err.message}`);
            this.binds.set(`${info.bindAddr}:${bound}`, { addr: info.bindAddr, port: info.bindPort, bound, commandId: d.commandId, started, connections: 0, upstream: up });
            this.log.info({ listen: `${destination(facts)}`, bound }, 'ssh remote forwarding bound on the target');
            accept?.(bound);
          });
        } catch (e) {
          fail(`cannot reach the target: ${(e as Error).message}`);
        }
      })
      .catch((e: Error) => this.failed(e, no));
  }

  private cancel(accept: (() => void) | undefined, reject: (() => void) | undefined, info: TcpipBindInfo): void {
    const b = this.binds.get(`${info.bindAddr}:${info.bindPort}`) ?? [...this.binds.values()].find((x) => x.addr === info.bindAddr && x.port === info.bindPort);
    if (!b) return reject?.();
    this.binds.delete(`${b.addr}:${b.bound}`);
    try {
      b.upstream.unforwardIn(b.addr, b.port, (err) => {
        this.unbound(b, err ? `cancelled; the target said: ${err.message}` : 'cancelled');
        if (err) reject?.();
        else accept?.();
      });
    } catch (e) {
      // the connection to the target is gone, and its listener with it
      this.unbound(b, `cancelled; the target was gone: ${(e as Error).message}`);
      accept?.();
    }
  }

  /** The bind's own result: how long the target listened, how many connections it passed on. */
  private unbound(b: Bind, why: string): void {
    void this.ctxP.then((ctx) =>
      ctx.session.result(b.commandId, { columns: [{ name: 'listen' }, { name: 'connections' }], rows: [[`${forwardHost(b.addr)}:${b.bound}`, String(b.connections)]], rowCount: 1, tag: why, durationMs: Date.now() - b.started }),
    );
  }

  /** Connections the target accepted on a port it listens on for the caller. */
  private hook(up: Client): void {
    if (this.hooked.has(up)) return;
    this.hooked.add(up);
    // the target stops listening when the gateway's connection to it ends
    up.once('close', () => {
      for (const [key, b] of this.binds) {
        if (b.upstream !== up) continue;
        this.binds.delete(key);
        this.unbound(b, 'the connection to the target closed');
      }
    });
    up.on('tcp connection', (info: TcpConnectionDetails, accept: AcceptConnection<ClientChannel>, reject: RejectConnection) => {
      const b = this.binds.get(`${info.destIP}:${info.destPort}`);
      if (!b) return reject();
      // judged as the bind was (rules may have changed, the token been revoked since)
      const facts: ForwardFacts = { kind: 'remote', host: b.addr, port: b.port };
      void this.ctxP
        .then(async (ctx) => {
          const started = Date.now();
          const d = await this.judge(ctx, facts, 'forwarded-tcpip', `${info.srcIP}:${info.srcPort}`);
          if (d.action !== 'allow') return reject();
          b.connections++;
          this.caller.forwardOut(b.addr, b.bound, info.srcIP, info.srcPort, (err, callerCh) => {
            if (err) {
              ctx.session.result(d.commandId, { columns: COLUMNS, rows: [[destination(facts), '0', '0']], rowCount: 0, error: { message: `the caller refused the connection: ${err.message}` }, durationMs: Date.now() - started });
              return reject();
            }
            this.relay(ctx, d.commandId, started, facts, callerCh, accept());
          });
        })
        .catch((e: Error) => this.failed(e, reject));
    });
  }

  /** An agent channel the target opened (a process there uses SSH_AUTH_SOCK). */
  private agentChannel(cb: (err: Error | null, stream?: Duplex) => void): void {
    const facts: ForwardFacts = { kind: 'agent' };
    void this.ctxP
      .then(async (ctx) => {
        const started = Date.now();
        const d = await this.judge(ctx, facts, 'auth-agent@openssh.com');
        if (d.action !== 'allow') return cb(new Error('agent channel refused'));
        openCallerAgent(this.caller, (err, callerCh) => {
          if (err || !callerCh) {
            ctx.session.result(d.commandId, { columns: COLUMNS, rows: [['agent', '0', '0']], rowCount: 0, error: { message: `the caller refused its agent: ${err?.message ?? 'no channel'}` }, durationMs: Date.now() - started });
            return cb(err ?? new Error('no agent channel'));
          }
          // ssh2 pipes the target's channel into one end; the other end is relayed and counted
          const [forSsh2, mine] = duplexPair();
          this.relay(ctx, d.commandId, started, facts, callerCh, mine);
          cb(null, forSsh2);
        });
      })
      .catch((e: Error) => this.failed(e, (err?: Error) => cb(err ?? new Error('agent channel refused'))));
  }

  /** One forwarded connection: judged (and so recorded) before anything is relayed. */
  private async judge(ctx: ChannelContext, facts: ForwardFacts, via: string, from?: string): Promise<Decision> {
    const text = `forward ${describeForward(facts)}${from ? ` from ${from}` : ''}`;
    const d = await ctx.session.command({ text, via, forward: facts });
    if (d.action !== 'allow') {
      this.log.info({ forward: describeForward(facts), via, ...(from ? { from } : {}), decision: d.action, ...(d.action === 'review' ? { reviewId: d.reviewId, reason: d.message } : { reason: d.reason }) }, 'ssh forwarding refused');
    }
    return d;
  }

  private relay(ctx: ChannelContext, commandId: string, started: number, facts: ForwardFacts, callerSide: Duplex, targetSide: Duplex): void {
    relayCounted(callerSide, targetSide, (r: Relayed) => {
      ctx.session.result(commandId, {
        columns: COLUMNS,
        rows: [[destination(facts), String(r.fromCaller), String(r.toCaller)]],
        rowCount: 1,
        tag: r.error ? 'broken' : 'closed',
        ...(r.error ? { error: { message: r.error } } : {}),
        durationMs: Date.now() - started,
      });
    });
  }

  private failed(e: Error, refuse: () => void): void {
    this.log.error({ err: e.message }, 'ssh forwarding failed');
    refuse();
  }
}

/** what the caller's ssh prints of a refused channel */
function refusal(d: Exclude<Decision, { action: 'allow' }>): string {
  return d.action === 'review' ? `warden: held for review ${d.reviewId}: ${d.message}; nothing was sent; once approved, connect again` : `warden: ${d.reason}`;
}

function destination(f: ForwardFacts): string {
  return f.kind === 'agent' ? 'agent' : `${forwardHost(f.host)}:${f.port}`;
}
