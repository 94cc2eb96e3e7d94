// A Git request as the policy sees it (facts from the git door, src/protocols/git): a push
// is one statement per ref it updates, category `write`, with the ref and whether the update
// is a force push (not proven a fast-forward), a creation or a deletion; anything through
// upload-pack (clone, fetch, ls-refs) and a ref advertisement is one `read` statement. Rules
// name them with `git: { repos, refs, force, create, delete }` (git-rule-schema.ts). A request
// the door could not read is opaque: it falls to onUnknown.
import type { Classification, GitCommandFacts, Statement } from '../sql/types.ts';
import { opaqueCommand } from './target-functions.ts';

export function classifyGit(text: string, facts?: GitCommandFacts): Classification {
  if (!facts) return opaqueCommand('a Git command without the door\'s facts');
  const base = { kind: 'other' as const, tables: [], functions: [], noWhere: false, opaque: false, nested: [] };
  const statements: Statement[] = facts.op === 'push'
    ? (facts.updates ?? []).map((u) => ({
        ...base, category: 'write' as const, node: 'push',
        git: { op: 'push', repo: facts.repo, ref: u.ref, force: u.force, create: u.create, delete: u.delete },
      }))
    : [{ ...base, category: 'read', node: facts.op, git: { op: facts.op, repo: facts.repo } }];
  // the text names every fact (ids, force), so a decision may be cached by it
  return { key: text, fingerprint: '', hasExecute: false, statements };
}
