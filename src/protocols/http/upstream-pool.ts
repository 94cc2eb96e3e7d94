// Keep-alive connections to the targets of http connections, one pool per connection: a new
// TCP connection (and TLS handshake) for every request cost the gateway and the target a
// connect, an accept and a close per request (bench:http). Connections are dialed through the
// connection's agent like any other; a reused one carries nothing of an earlier caller (the
// credential and the caller's headers travel with each request). A stream that is not a socket
// (a remote agent's tunnel stream) is used for one request and closed, as before.
import { Agent, type ClientRequestArgs } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { dialTarget, type Dial, type UrlTarget } from './dial-target.ts';

class DialingAgent extends Agent {
  constructor(
    private readonly conn: UrlTarget,
    private readonly dial: Dial,
  ) {
    // timeouts of idle connections follow the target's Keep-Alive hint (Node's own handling)
    super({ keepAlive: true });
  }

  override createConnection(_o: ClientRequestArgs, done?: (err: Error | null, stream: Duplex) => void): undefined {
    dialTarget(this.dial, this.conn, new URL(this.conn.url)).then(
      (stream) => done!(null, stream),
      (e: Error) => done!(e, undefined as never),
    );
    return undefined;
  }

  override keepSocketAlive(socket: Duplex): boolean {
    if (!(socket instanceof Socket)) return false;
    // Node's says false when the target's Keep-Alive hint is too short to reuse it (typed void)
    return (super.keepSocketAlive(socket) as unknown) !== false;
  }
}

export class UpstreamPool {
  private readonly agents = new Map<string, Agent>();

  constructor(private readonly dial: Dial) {}

  /** The pool of this connection (connections do not change while the gateway runs). */
  agent(conn: UrlTarget): Agent {
    let a = this.agents.get(conn.name);
    if (!a) this.agents.set(conn.name, (a = new DialingAgent(conn, this.dial)));
    return a;
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
