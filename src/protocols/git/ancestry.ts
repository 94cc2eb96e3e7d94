// Is a ref update a fast-forward (the old commit an ancestor of the new one)? Nothing the
// client says is taken for it. First the pushed pack: its commits are walked from the new id,
// by ids computed from their bytes (pack.ts); reaching the old id proves it. Otherwise the walk
// ends at commits the pack does not hold, which the remote must already have; the remote is
// asked whether the old id is reachable from them (remote-ancestry.ts). When neither proves
// it (the remote cannot be asked, a delta could not be read), the update counts as a force
// push: fail closed.
import type { PackSummary } from './pack.ts';

export type Ancestry = { ff: true; by: 'pack' | 'remote' } | { ff: false; why: string };

/** whether `old` is reachable from any of `from` on the remote; a string says why it cannot tell */
export type AskRemote = (old: string, from: string[]) => Promise<boolean | string>;

/** at most this many boundary commits are named to the remote */
const MAX_HAVES = 256;

export async function fastForward(old: string, next: string, pack: PackSummary | null, ask: AskRemote): Promise<Ancestry> {
  const commits = pack?.commits ?? new Map<string, string[]>();
  const boundary = new Set<string>();
  const seen = new Set<string>([next]);
  const todo = [next];
  while (todo.length) {
    const id = todo.pop()!;
    if (id === old) return { ff: true, by: 'pack' };
    const parents = commits.get(id);
    if (!parents) {
      boundary.add(id);
      continue;
    }
    for (const p of parents) {
      if (!seen.has(p)) {
        seen.add(p);
        todo.push(p);
      }
    }
  }
  if (boundary.size === 0) return { ff: false, why: 'the new commit\'s history in the pack does not reach the old one' };
  if (boundary.size > MAX_HAVES) return { ff: false, why: `the new history reaches ${boundary.size} commits the pack does not hold (over ${MAX_HAVES} to ask about)` };
  const answer = await ask(old, [...boundary]).catch((e: Error) => e.message);
  if (answer === true) return { ff: true, by: 'remote' };
  if (answer === false) return { ff: false, why: 'the old commit is not in the new one\'s history' };
  return { ff: false, why: `whether it is a fast-forward could not be known (${answer}); counted as a force push` };
}
