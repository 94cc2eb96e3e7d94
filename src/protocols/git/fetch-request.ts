// What a POST to git-upload-pack asks for (a clone or fetch: a read), summarised for the
// record: protocol v2's command (`ls-refs`, `fetch`) and its ref prefixes, the ids wanted
// (`want`, `want-ref`) and how many ids the client says it has. Every packet is read to the
// end of the body; one with a bad length refuses the request.
import { ByteQueue, TruncatedError } from './byte-queue.ts';
import { PktError, readPkt } from './pkt-line.ts';
import { GitProtocolError } from './push-request.ts';

export interface FetchRequest {
  /** protocol v2's command; `fetch` for protocol v0 (which has only that) */
  command: string;
  wants: string[];
  wantRefs: string[];
  haves: number;
  prefixes: string[];
}

export async function readFetch(q: ByteQueue): Promise<FetchRequest> {
  const r: FetchRequest = { command: 'fetch', wants: [], wantRefs: [], haves: 0, prefixes: [] };
  try {
    while (!(await q.atEnd())) {
      const p = await readPkt(q);
      if (p.kind !== 'data') continue;
      const line = p.payload.toString('utf8').replace(/\n$/, '');
      const [word, arg = ''] = line.split(/[ =](.*)/s, 2);
      if (word === 'command') r.command = arg;
      else if (word === 'want') r.wants.push(arg.slice(0, 40));
      else if (word === 'want-ref') r.wantRefs.push(arg);
      else if (word === 'have') r.haves++;
      else if (word === 'ref-prefix') r.prefixes.push(arg);
    }
  } catch (e) {
    if (e instanceof PktError || e instanceof TruncatedError) throw new GitProtocolError(e.message);
    throw e;
  }
  return r;
}
