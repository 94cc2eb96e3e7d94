// The three smart HTTP exchanges, each a session with one command judged and recorded before
// anything reaches the remote:
//  - GET info/refs?service=...: `advertise <repo> (<service>)`, a read; the refs the remote
//    advertises are recorded;
//  - POST git-upload-pack (clone, fetch, ls-refs): a read, `fetch <repo> want ...` or
//    `ls-refs <repo>`, the body read first (spooled) so its wants are in the record;
//  - POST git-receive-pack (push): the body is read whole before anything is sent: the command
//    list and the pack (push-request.ts), whether each update is a fast-forward (ancestry.ts),
//    then `push <repo>: <ref> <old> -> <new> [force|create|delete], ...` is judged with one
//    statement per ref. A refused push is answered as receive-pack would refuse it, so git
//    shows the reason (`! [remote rejected] main -> main (warden: held for review ...)`).
// The remote's answers stream back as they come; the record reads them on the way
// (responses.ts): the refs advertised, or each ref's ok / ng from the report-status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GitConnectionConfig } from '../../config/schema.ts';
import type { Identity } from '../../identity/types.ts';
import type { GitCommandFacts, GitRefUpdateFacts } from '../../sql/types.ts';
import type { Decision } from '../../session/types.ts';
import type { Session } from '../../session/session.ts';
import type { UpstreamPool } from '../http/upstream-pool.ts';
import { ByteQueue } from './byte-queue.ts';
import type { GitDoorDeps } from './door.ts';
import { sendText } from './reply.ts';
import { fastForward } from './ancestry.ts';
import { readFetch, type FetchRequest } from './fetch-request.ts';
import { GitProtocolError, readPush, ZERO_ID, type PushRequest } from './push-request.ts';
import { reachableOnRemote } from './remote-ancestry.ts';
import { AdvertisementReader, refuseFetch, refusePush, ReportStatusReader } from './responses.ts';
import { spool, SpoolError, type Spooled } from './spool.ts';
import { sendUpstream } from './upstream.ts';

export interface Exchange {
  raw: IncomingMessage;
  res: ServerResponse;
  conn: GitConnectionConfig;
  identity: Identity;
  clientAddr: string;
  /** `org/repo.git` */
  repo: string;
  pool: UpstreamPool;
  deps: GitDoorDeps;
}

const open = (x: Exchange, service: string) =>
  x.deps.openSession({
    identity: x.identity, connection: x.conn.name, connectionType: 'git', protocol: 'git', clientAddr: x.clientAddr,
    attributes: { repo: x.repo, service, userAgent: String(x.raw.headers['user-agent'] ?? ''), gitProtocol: String(x.raw.headers['git-protocol'] ?? '') },
  });

function refusal(d: Exclude<Decision, { action: 'allow' }>): string {
  return d.action === 'review'
    ? `warden: held for review ${d.reviewId}: ${d.message}; push or fetch again once it is approved`
    : `warden: blocked: ${d.reason}`;
}

export async function advertise(x: Exchange, service: 'git-upload-pack' | 'git-receive-pack'): Promise<void> {
  const session = await open(x, service);
  try {
    const decision = await session.command({ text: `advertise ${x.repo} (${service})`, via: 'git', git: { op: 'advertise', repo: x.repo } });
    if (decision.action !== 'allow') return sendText(x.res, 403, refusal(decision));
    await relay(x, session, decision.commandId, { method: 'GET', suffix: `/info/refs?service=${service}` }, () => {
      const ads = new AdvertisementReader();
      return { push: (c) => ads.push(c), summary: () => ads.summary() };
    });
  } finally {
    await session.end(x.res.writableFinished ? 'request done' : 'client went away');
  }
}

export async function fetchPack(x: Exchange): Promise<void> {
  const body = await readBody(x);
  if (!body) return;
  let session: Session | null = null;
  try {
    let req: FetchRequest;
    try {
      req = await readDecoded(body, readFetch);
    } catch (e) {
      if (!(e instanceof GitProtocolError) && !isZlib(e)) throw e;
      session = await open(x, 'git-upload-pack');
      return await unreadable(x, session, `fetch ${x.repo}`, 'upload-pack', (e as Error).message);
    }
    session = await open(x, 'git-upload-pack');
    const facts: GitCommandFacts = { op: req.command, repo: x.repo };
    const decision = await session.command({ text: fetchText(x.repo, req), via: 'git', git: facts });
    if (decision.action !== 'allow') return answer(x.res, 'application/x-git-upload-pack-result', refuseFetch(refusal(decision)));
    const lsRefs = req.command === 'ls-refs';
    await relay(x, session, decision.commandId, { method: 'POST', suffix: '/git-upload-pack', body }, () => {
      const ads = new AdvertisementReader();
      let bytes = 0;
      return {
        push: (c) => (lsRefs ? ads.push(c) : (bytes += c.length)),
        summary: () => (lsRefs
          ? ads.summary()
          : { rowCount: req.wants.length + req.wantRefs.length, columns: [{ name: 'want' }], rows: [...req.wants, ...req.wantRefs].slice(0, 100).map((w) => [w]), tag: `${bytes} bytes` }),
      };
    });
  } finally {
    await body.remove();
    await session?.end(x.res.writableFinished ? 'request done' : 'client went away');
  }
}

export async function receivePack(x: Exchange): Promise<void> {
  const body = await readBody(x);
  if (!body) return;
  let session: Session | null = null;
  try {
    let push: PushRequest;
    try {
      push = await readDecoded(body, readPush);
    } catch (e) {
      if (!(e instanceof GitProtocolError) && !isZlib(e)) throw e;
      session = await open(x, 'git-receive-pack');
      return await unreadable(x, session, `push ${x.repo}`, 'receive-pack', (e as Error).message);
    }
    // git's probe before a large push (an empty command list): nothing to judge or send
    if (!push.updates.length) return answer(x.res, 'application/x-git-receive-pack-result', Buffer.alloc(0));
    const updates: GitRefUpdateFacts[] = [];
    const notes: string[] = [];
    for (const u of push.updates) {
      const create = u.old === ZERO_ID;
      const del = u.new === ZERO_ID;
      let force = false;
      if (!create && !del) {
        const a = await fastForward(u.old, u.new, push.pack, (old, from) => reachableOnRemote(x.conn, x.pool, `/${x.repo}`, old, from));
        force = !a.ff;
        if (!a.ff) notes.push(`${u.ref}: ${a.why}`);
      }
      updates.push({ ref: u.ref, old: u.old, new: u.new, force, create, delete: del });
    }
    session = await open(x, 'git-receive-pack');
    const commits = push.pack?.commits.size ?? 0;
    // push options reach the remote's hooks (ci.skip, merge requests): they are part of what is judged and approved
    const text = `push ${x.repo}: ${updates.map(updateText).join(', ')}${push.options.length ? `; options: ${push.options.join(', ')}` : ''}`;
    const decision = await session.command({ text, via: 'git', git: { op: 'push', repo: x.repo, updates } });
    if (decision.action !== 'allow') return answer(x.res, 'application/x-git-receive-pack-result', refusePush(push.updates, push.capabilities, refusal(decision)));
    const sideband = push.capabilities.includes('side-band-64k') || push.capabilities.includes('side-band');
    await relay(x, session, decision.commandId, { method: 'POST', suffix: '/git-receive-pack', body }, () => {
      const report = new ReportStatusReader(sideband);
      return {
        push: (c) => report.push(c),
        summary: () => {
          const status = (ref: string) => {
            const r = report.refs.find((s) => s.ref === ref);
            return r ? (r.ok ? 'ok' : `ng ${r.message ?? ''}`.trim()) : 'unreported';
          };
          const rows = updates.map((u) => [u.ref, u.old, u.new, u.force ? 'force' : u.create ? 'create' : u.delete ? 'delete' : 'fast-forward', status(u.ref)]);
          const ok = report.unpack === 'ok' && rows.every((r) => r[4] === 'ok');
          return {
            rowCount: rows.filter((r) => r[4] === 'ok').length,
            columns: ['ref', 'old', 'new', 'update', 'result'].map((name) => ({ name })),
            rows,
            tag: `${commits} commit${commits === 1 ? '' : 's'}${push.pack?.unresolved ? ` (+${push.pack.unresolved} delta${push.pack.unresolved === 1 ? '' : 's'} on objects the pack does not hold)` : ''}; ${ok ? 'ok' : `unpack ${report.unpack ?? 'unreported'}`}${notes.length ? `; ${notes.join('; ')}` : ''}`,
            ...(ok ? {} : { error: { code: 'push_rejected', message: report.unpack !== 'ok' ? `unpack ${report.unpack ?? 'not reported'}` : 'the remote refused some ref updates' } }),
          };
        },
      };
    });
  } finally {
    await body.remove();
    await session?.end(x.res.writableFinished ? 'request done' : 'client went away');
  }
}

/** Reads the body as git wrote it; the file is closed however the reader ends. */
async function readDecoded<T>(body: Spooled, read: (q: ByteQueue) => Promise<T>): Promise<T> {
  const src = body.decoded();
  try {
    return await read(new ByteQueue(src[Symbol.asyncIterator]()));
  } finally {
    src.destroy();
  }
}

function updateText(u: GitRefUpdateFacts): string {
  const kind = u.create ? ' create' : u.delete ? ' delete' : u.force ? ' force' : '';
  return `${u.ref} ${u.old} -> ${u.new}${kind}`;
}

function fetchText(repo: string, r: FetchRequest): string {
  if (r.command === 'ls-refs') return `ls-refs ${repo}${r.prefixes.length ? ` ${r.prefixes.slice(0, 20).join(' ')}` : ''}`;
  if (r.command !== 'fetch') return `${r.command} ${repo}`;
  const wants = [...new Set([...r.wants.map((w) => w.slice(0, 12)), ...r.wantRefs])];
  return `fetch ${repo} want ${wants.length}${wants.length ? `: ${wants.slice(0, 20).join(' ')}${wants.length > 20 ? ' ...' : ''}` : ''} have ${r.haves}`;
}

const isZlib = (e: unknown) => typeof (e as { errno?: unknown }).errno === 'number' && /zlib|header|check|unexpected end/i.test(String((e as Error).message));

async function readBody(x: Exchange): Promise<Spooled | null> {
  try {
    return await spool(x.raw, x.deps.spoolDir, x.raw.headers['content-encoding'] as string | undefined, x.conn.maxPushBytes);
  } catch (e) {
    if (e instanceof SpoolError) {
      sendText(x.res, e.status, `warden: ${e.message}`);
      return null;
    }
    if (x.raw.destroyed) return null;
    throw e;
  }
}

/** A body the door cannot read: recorded as opaque (so onUnknown and block rules see it), never sent. */
async function unreadable(x: Exchange, session: Session, text: string, what: string, why: string): Promise<void> {
  const decision = await session.command({ text: `${text} (unreadable)`, via: 'git', opaque: `the ${what} request cannot be read: ${why}` });
  session.result(decision.commandId, { rowCount: 0, durationMs: 0, tag: '400', error: { code: 'protocol_error', message: why } });
  sendText(x.res, 400, `warden: refused: the ${what} request cannot be read (${why})`);
}

function answer(res: ServerResponse, type: string, body: Buffer): void {
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache' });
  res.end(body);
}

interface Tap {
  push(chunk: Buffer): void;
  summary(): { rowCount: number; columns?: { name: string }[]; rows?: string[][]; truncated?: boolean; tag?: string; error?: { code: string; message: string } };
}

/** Sends the request (a spooled body as it came) and streams the remote's answer back, read by the tap for the record. */
async function relay(x: Exchange, session: Session, commandId: string, r: { method: 'GET' | 'POST'; suffix: string; body?: Spooled }, tap: () => Tap): Promise<void> {
  const startedAt = Date.now();
  let up: IncomingMessage;
  try {
    up = await sendUpstream(x.conn, x.pool, {
      method: r.method, repo: `/${x.repo}`, suffix: r.suffix, headers: x.raw.headers,
      ...(r.body ? { body: { stream: r.body.raw(), length: r.body.size } } : {}),
    });
  } catch (e) {
    const message = (e as Error).message;
    session.result(commandId, { rowCount: 0, durationMs: Date.now() - startedAt, tag: '502', error: { code: 'upstream_failed', message } });
    return sendText(x.res, 502, `warden: ${message}`);
  }
  const status = up.statusCode ?? 502;
  if (status === 401 || status === 403) {
    // never passed on: git would ask its user for a credential that is the gateway's to hold
    up.resume();
    const message = `the remote refused the credential of connection "${x.conn.name}" (HTTP ${status})`;
    session.result(commandId, { rowCount: 0, durationMs: Date.now() - startedAt, tag: String(status), error: { code: 'upstream_auth', message } });
    return sendText(x.res, 502, `warden: ${message}`);
  }
  const t = tap();
  const headers: Record<string, string | string[]> = {};
  for (const h of ['content-type', 'cache-control', 'expires', 'pragma', 'content-encoding']) if (up.headers[h] !== undefined) headers[h] = up.headers[h]!;
  // the answer was asked for uncompressed; one that is not is passed on unread
  const readable = up.headers['content-encoding'] === undefined || up.headers['content-encoding'] === 'identity';
  x.res.writeHead(status, headers);
  x.res.flushHeaders();
  x.res.on('close', () => {
    if (!x.res.writableFinished) up.destroy();
  });
  up.on('data', (c: Buffer) => {
    if (readable) t.push(c);
  });
  up.pipe(x.res);
  await new Promise<void>((resolve) => {
    x.res.once('close', resolve);
    x.res.once('finish', resolve);
    up.once('error', () => {
      x.res.destroy();
      resolve();
    });
  });
  const s = readable ? t.summary() : { rowCount: 0, tag: 'answer compressed: not read' };
  const done = x.res.writableFinished;
  session.result(commandId, {
    durationMs: Date.now() - startedAt, ...s, tag: `${status}${s.tag ? ` ${s.tag}` : ''}`,
    ...(status >= 400 ? { error: { code: 'upstream_error', message: `the remote answered HTTP ${status}` } } : {}),
    ...(!done ? { error: { code: 'client_gone', message: 'the answer did not reach the client whole' } } : {}),
  });
}
