// A byte stream to an http connection's target: dialed through the connection's agent (the
// embedded one or a remote agent's tunnel), with TLS as the connection says for an https or
// wss target. Shared by the keep-alive pool (plain requests) and the WebSocket door.
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { HttpConnectionConfig } from '../../config/schema.ts';

/** what dialing a target needs of a connection (http and git connections have it) */
export type UrlTarget = Pick<HttpConnectionConfig, 'name' | 'url' | 'agent' | 'tls'>;

export type Dial = (c: { host: string; port: number; agent: string }) => Promise<Duplex>;

export async function dialTarget(dial: Dial, conn: UrlTarget, target: URL): Promise<Duplex> {
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const port = Number(target.port || (secure ? 443 : 80));
  const socket = await dial({ host: target.hostname, port, agent: conn.agent });
  if (!secure) return socket;
  const tls: { ca?: string; verify?: boolean } = conn.tls ?? {};
  const ca = tls.ca ? (tls.ca.includes('-----BEGIN') ? tls.ca : readFileSync(tls.ca, 'utf8')) : undefined;
  return tlsConnect({ socket, servername: target.hostname, ca, rejectUnauthorized: tls.verify !== false, ALPNProtocols: ['http/1.1'] });
}
