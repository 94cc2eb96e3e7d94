// `git:` conditions of a rule (git-rule-schema.ts) against one Git statement. Like other
// rules they lean the safe way for the action: block and review rules compare ref and repo
// globs without case and match a repository with or without its `.git`; allow rules compare
// exactly.
import type { Statement } from '../sql/types.ts';
import type { GitMatch } from './git-rule-schema.ts';

type GitFacts = NonNullable<Statement['git']>;

export function compileGitConditions(g: GitMatch, mode: 'any' | 'every'): (s: GitFacts) => boolean {
  const re = (p: string) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, mode === 'any' ? 'is' : 's');
  const repos = g.repos?.map((p) => re(p.replace(/^\//, '')));
  const refs = g.refs?.map(re);
  return (s) => {
    if (repos) {
      const names = mode === 'any' ? [s.repo, s.repo.replace(/\.git$/i, '')] : [s.repo];
      if (!names.some((n) => repos.some((r) => r.test(n)))) return false;
    }
    if (refs && !(s.ref !== undefined && refs.some((r) => r.test(s.ref!)))) return false;
    if (g.force && s.force !== true) return false;
    if (g.create && s.create !== true) return false;
    if (g.delete && s.delete !== true) return false;
    return true;
  };
}
