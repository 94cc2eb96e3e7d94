// Agent forwarding across the gateway: the target's processes reach the caller's agent.
// ssh2 has no public API for either half, so the two places it is reached into are here:
//  - the upstream client forwards an agent only when it was given one at connect time (and
//    then also tries it for its own login, which must stay the gateway's key): the agent is
//    set on the client after its login instead, and agent forwarding switched on for the
//    session channels it opens from then on (`config.allowAgentFwd`, `_agent`);
//  - the server side of ssh2 cannot open an `auth-agent@openssh.com` channel to the caller:
//    its protocol can send the open (`openssh_authAgent`), and the confirmation is handled
//    like any channel the server opened (`_chanMgr`).
// test/integration/ssh-forwarding.test.ts fails when an ssh2 upgrade moves these.
import ssh2, { type Client, type Connection, type ServerChannel } from 'ssh2';
import type { Duplex } from 'node:stream';

const { BaseAgent } = ssh2;

/** what ssh2's Channel.js uses for the channels its server opens */
const WINDOW = 2 * 1024 * 1024;
const PACKET = 32 * 1024;

/** An agent whose only use is a stream per channel the target opens (never a login). */
class CallerAgent extends BaseAgent {
  constructor(private readonly open: (cb: (err: Error | null, stream?: Duplex) => void) => void) {
    super();
  }

  override getStream(cb: (err: Error | null, stream?: Duplex) => void): void {
    this.open(cb);
  }

  // the gateway's login to the target uses its own key, never the caller's agent
  override getIdentities(cb: (err: Error) => void): void {
    cb(new Error('the caller\'s agent is not used for the gateway\'s login'));
  }

  override sign(_key: unknown, _data: Buffer, _opts: unknown, cb?: (err: Error) => void): void {
    cb?.(new Error('the caller\'s agent is not used for the gateway\'s login'));
  }
}

interface ClientInternals {
  _agent?: unknown;
  config: { allowAgentFwd?: boolean };
}

/**
 * From now on, session channels this client opens ask the target for agent forwarding, and
 * each agent channel the target opens is handed to `open` (which may refuse it).
 */
export function forwardAgentOn(client: Client, open: (cb: (err: Error | null, stream?: Duplex) => void) => void): void {
  const c = client as unknown as ClientInternals;
  if (c._agent instanceof CallerAgent) return;
  c._agent = new CallerAgent(open);
  c.config.allowAgentFwd = true;
}

interface ConnectionInternals {
  _chanMgr: { add(cb: unknown): number };
  _protocol: { openssh_authAgent(id: number, window: number, packet: number): void };
}

/** Open an agent channel to the caller (it refuses unless it forwards its agent: ssh -A). */
export function openCallerAgent(conn: Connection, cb: (err: Error | undefined, ch?: ServerChannel) => void): void {
  const c = conn as unknown as ConnectionInternals;
  const done = Object.assign((err: Error | undefined, ch?: ServerChannel) => cb(err, ch), { type: 'auth-agent@openssh.com' });
  const id = c._chanMgr.add(done);
  if (id === -1) return cb(new Error('no free channel to the caller'));
  c._protocol.openssh_authAgent(id, WINDOW, PACKET);
}
