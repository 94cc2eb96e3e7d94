// Requests to a git connection's remote: through the connection's agent and the keep-alive
// pool the http door uses (upstream-pool.ts), with only the headers smart HTTP needs passed on
// (never the caller's Authorization) and the connection's own credential put on each. The
// remote is asked not to compress its answers, so the record can read them as they pass.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { GitConnectionConfig } from '../../config/schema.ts';
import type { UpstreamPool } from '../http/upstream-pool.ts';

/** the request headers a smart HTTP exchange needs; everything else stays at the gateway */
const PASSED = ['content-type', 'content-encoding', 'accept', 'git-protocol', 'user-agent'];

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  /** the repository path, `/org/repo.git` */
  repo: string;
  /** what follows it: `/info/refs?service=git-upload-pack`, `/git-receive-pack` */
  suffix: string;
  headers: Record<string, string | string[] | undefined>;
  body?: { stream: Readable; length: number } | Buffer;
  /** give up when the remote is silent this long (the gateway's own questions; git's traffic waits as git does) */
  timeoutMs?: number;
}

export function remoteUrl(conn: GitConnectionConfig, repo: string, suffix: string): URL {
  const u = new URL(conn.url);
  const [path, query] = suffix.split('?', 2) as [string, string?];
  u.pathname = `${u.pathname.replace(/\/$/, '')}${repo}${path}`;
  u.search = query ? `?${query}` : '';
  return u;
}

export function credentialHeader(conn: GitConnectionConfig): [string, string] | null {
  const c = conn.credential;
  if (!c) return null;
  if ('username' in c) return ['authorization', `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`];
  return [c.header.toLowerCase(), c.scheme ? `${c.scheme} ${c.value}` : c.value];
}

export function sendUpstream(conn: GitConnectionConfig, pool: UpstreamPool, r: UpstreamRequest): Promise<IncomingMessage> {
  const url = remoteUrl(conn, r.repo, r.suffix);
  const headers: OutgoingHttpHeaders = {};
  for (const h of PASSED) if (r.headers[h] !== undefined) headers[h] = r.headers[h];
  headers['accept-encoding'] = 'identity';
  headers.host = url.host;
  const cred = credentialHeader(conn);
  if (cred) headers[cred[0]] = cred[1];
  if (r.body) headers['content-length'] = Buffer.isBuffer(r.body) ? r.body.length : r.body.length;
  return new Promise((resolve, reject) => {
    const up = httpRequest({ method: r.method, path: `${url.pathname}${url.search}`, headers, agent: pool.agent(conn) });
    up.once('response', resolve);
    // `on`: an error after the answer began must not go unheard (the answer's own stream reports it)
    up.on('error', (e) => reject(new Error(`cannot reach connection "${conn.name}": ${e.message}`)));
    if (r.timeoutMs) up.setTimeout(r.timeoutMs, () => up.destroy(new Error(`no answer in ${r.timeoutMs} ms`)));
    if (!r.body) up.end();
    else if (Buffer.isBuffer(r.body)) up.end(r.body);
    else {
      const body = r.body.stream;
      body.once('error', (e) => up.destroy(e));
      // a request that ends early (the remote gone) closes the spooled file it was reading
      up.once('close', () => body.destroy());
      body.pipe(up);
    }
  });
}
