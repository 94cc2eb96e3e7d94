// `commands:` globs of a rule against one shell command's words. A glob matches the words
// joined by single spaces, with the program as written (`/usr/bin/rm -rf x`) or by its base
// name (`rm -rf x`), so a rule about `rm *` is not evaded by naming the program's path.
import { globToRegExp } from './names.ts';

export function compileCommandGlobs(globs: string[]): (argv: readonly string[]) => boolean {
  // 's': a quoted word may hold a newline, and `*` spans it too
  const res = globs.map((g) => new RegExp(globToRegExp(g).source, 's'));
  return (argv) => {
    if (!argv.length) return false;
    const line = argv.join(' ');
    const base = argv[0]!.includes('/') ? [argv[0]!.split('/').pop()!, ...argv.slice(1)].join(' ') : line;
    return res.some((r) => r.test(line) || r.test(base));
  };
}
