// When an event's hash does not match its content, say whether it was edited in place
// or is a real event sitting at the wrong seq (reordered). Runs once, on the failure
// path, and looks at most SEARCH_WINDOW events ahead.
import { canonicalJson, eventHash } from './canonical.ts';
import type { ChainSource, EventRecord } from './source.ts';
import type { VerifyResult } from './types.ts';

const SEARCH_WINDOW = 100_000;

type Problem = Required<Pick<VerifyResult, 'problem' | 'brokenSeq' | 'kind'>>;

/**
 * `row` failed its hash check; `expectPrev` is the hash of the last good event. Two
 * kinds of move are recognised: the whole row moved (its content and hashes are
 * consistent for another seq k), or only the content moved (the content of some later
 * row k hashes, at this seq, to this row's hash).
 */
export async function explainMismatch(source: ChainSource, row: EventRecord, expectPrev: string, parsable: boolean): Promise<Problem> {
  const seq = Number(row.seq);
  const changed: Problem = { kind: 'changed', brokenSeq: seq, problem: `event ${seq} was changed: its content does not match its hash` };
  if (!parsable) return { ...changed, problem: `event ${seq} was changed: its data is not valid JSON` };
  const dataJson = canonicalJson(JSON.parse(row.data));
  const limit = Math.min(await source.lastSeq(), seq + SEARCH_WINDOW);

  const self = { ts: row.ts, type: row.type, sessionId: row.session_id, actor: row.actor, dataJson };
  for (let k = seq + 1; k <= limit; k++) {
    if (eventHash(row.prev_hash, { ...self, seq: k }) === row.hash) return reordered(seq, k);
  }

  for await (const page of source.events(seq)) {
    for (const r of page) {
      if (Number(r.seq) > limit) return changed;
      let other: string;
      try {
        other = canonicalJson(JSON.parse(r.data));
      } catch {
        continue;
      }
      const parts = { seq, ts: r.ts, type: r.type, sessionId: r.session_id, actor: r.actor, dataJson: other };
      if (eventHash(expectPrev, parts) === row.hash) return reordered(seq, Number(r.seq));
    }
  }
  return changed;
}

function reordered(seq: number, k: number): Problem {
  return { kind: 'reordered', brokenSeq: seq, problem: `event ${seq} was reordered: what sits at ${seq} is event ${k}'s, out of its place` };
}
