// What a push asks for, read from the body of a POST to git-receive-pack before any of it
// reaches the remote (gitprotocol-pack, "Pushing data to a server"): the command list
// (`<old-id> <new-id> <refname>`, capabilities after a NUL on the first line) up to a flush,
// the push options when that capability was asked for (up to a second flush), then the pack,
// absent only when every command deletes. Anything else (a second command list after the
// flush, a line that is not a command, a ref name git would not accept, bytes after the pack)
// is refused: the gateway judges exactly what receive-pack will act on, or nothing.
import { ByteQueue, TruncatedError } from './byte-queue.ts';
import { PackError, scanPack, type PackSummary } from './pack.ts';
import { PktError, readPkt } from './pkt-line.ts';

export class GitProtocolError extends Error {}

export const ZERO_ID = '0'.repeat(40);

export interface RefUpdate {
  ref: string;
  old: string;
  new: string;
}

export interface PushRequest {
  updates: RefUpdate[];
  capabilities: string[];
  options: string[];
  /** null: no pack was sent (deletions only) */
  pack: PackSummary | null;
}

/** at most this many ref updates in one push (git sends one per ref pushed) */
const MAX_UPDATES = 10_000;

export async function readPush(q: ByteQueue): Promise<PushRequest> {
  try {
    return await read(q);
  } catch (e) {
    if (e instanceof PktError || e instanceof PackError || e instanceof TruncatedError) throw new GitProtocolError(e.message);
    throw e;
  }
}

async function read(q: ByteQueue): Promise<PushRequest> {
  const updates: RefUpdate[] = [];
  let capabilities: string[] = [];
  for (;;) {
    const p = await readPkt(q);
    if (p.kind === 'flush') break;
    if (p.kind !== 'data') throw new GitProtocolError('a special packet inside the command list');
    let line = p.payload.toString('latin1');
    if (line.endsWith('\n')) line = line.slice(0, -1);
    if (updates.length === 0) {
      const nul = line.indexOf('\0');
      if (nul >= 0) {
        capabilities = line.slice(nul + 1).split(' ').filter(Boolean);
        line = line.slice(0, nul);
      }
    } else if (line.includes('\0')) throw new GitProtocolError('capabilities after the first command');
    if (/^shallow /.test(line) && updates.length === 0) throw new GitProtocolError('a push from a shallow clone cannot be judged (its history is cut)');
    const m = /^([0-9a-f]{40}) ([0-9a-f]{40}) (.+)$/s.exec(line);
    if (!m) throw new GitProtocolError(`not a ref update: ${JSON.stringify(line.slice(0, 120))}`);
    const ref = m[3]!;
    const bad = refNameProblem(ref);
    if (bad) throw new GitProtocolError(`ref name ${JSON.stringify(ref.slice(0, 120))} ${bad}`);
    if (updates.some((u) => u.ref === ref)) throw new GitProtocolError(`ref ${ref} is updated twice in one push`);
    if (m[1] === ZERO_ID && m[2] === ZERO_ID) throw new GitProtocolError(`ref ${ref}: an update from nothing to nothing`);
    updates.push({ old: m[1]!, new: m[2]!, ref });
    if (updates.length > MAX_UPDATES) throw new GitProtocolError(`more than ${MAX_UPDATES} ref updates in one push`);
  }
  const options: string[] = [];
  if (updates.length && capabilities.includes('push-options')) {
    for (;;) {
      const p = await readPkt(q);
      if (p.kind === 'flush') break;
      if (p.kind !== 'data') throw new GitProtocolError('a special packet inside the push options');
      options.push(p.payload.toString('utf8').replace(/\n$/, ''));
      if (options.length > 1000) throw new GitProtocolError('more than 1000 push options');
    }
  }
  let pack: PackSummary | null = null;
  if (!(await q.atEnd())) {
    if (!updates.length) throw new GitProtocolError('data after an empty command list');
    pack = await scanPack(q);
  } else if (updates.some((u) => u.new !== ZERO_ID)) throw new GitProtocolError('the push updates a ref but sends no pack');
  return { updates, capabilities, options, pack };
}

/** Why git would not take this as a ref name (git-check-ref-format), or null. */
export function refNameProblem(ref: string): string | null {
  if (!ref.startsWith('refs/')) return 'is not under refs/';
  // control characters, space and the characters git reserves; a NUL or newline hides a second name
  if ([...ref].some((ch) => ch <= ' ' || ch === '\x7f') || /[~^:?*[\\]/.test(ref)) return 'holds a character git does not allow in ref names';
  if (ref.includes('..') || ref.includes('@{') || ref.includes('//')) return 'holds "..", "@{" or "//"';
  if (ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock')) return 'ends in "/", "." or ".lock"';
  if (ref.split('/').some((c) => c.startsWith('.') || c === '')) return 'has a component that starts with "." or is empty';
  return null;
}
