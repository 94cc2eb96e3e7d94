// A command of an exec connection as the policy sees it: its argv, exactly as it will run
// (no shell reads it: `;`, `$(...)` and quotes are just characters of an argument). Rules
// match it with the same `commands` globs as ssh commands. Warden reads a few programs'
// subcommands to say whether a command only reads (kubectl get, git log); any other
// command is opaque, and falls to the connection's onUnknown (default review) unless a
// rule names its words.
import type { Classification, Statement } from '../sql/types.ts';

/** Subcommands that only read, per program; `a b` is a two-word subcommand. */
const READS: Record<string, Set<string>> = {
  kubectl: new Set(['get', 'describe', 'logs', 'explain', 'api-resources', 'api-versions', 'cluster-info', 'top', 'version', 'events', 'auth can-i', 'auth whoami', 'config view', 'config get-contexts', 'config current-context', 'config get-clusters', 'config get-users']),
  git: new Set(['version', 'ls-remote', 'log', 'show', 'status', 'diff', 'rev-parse', 'ls-files', 'ls-tree', 'cat-file', 'describe', 'blame', 'shortlog', 'grep']),
  helm: new Set(['list', 'ls', 'status', 'history', 'get', 'show', 'version', 'template', 'search']),
};
/** Subcommands that change something (the rest of a known program's are not known either way). */
const WRITES: Record<string, Set<string>> = {
  kubectl: new Set(['apply', 'create', 'delete', 'edit', 'patch', 'replace', 'scale', 'rollout', 'label', 'annotate', 'exec', 'run', 'cp', 'port-forward', 'attach', 'drain', 'cordon', 'uncordon', 'taint', 'set', 'expose', 'autoscale', 'debug', 'proxy', 'config set', 'config set-context', 'config use-context', 'config delete-context']),
  git: new Set(['push', 'commit', 'clone', 'fetch', 'pull', 'tag', 'branch', 'checkout', 'switch', 'merge', 'rebase', 'reset', 'remote', 'config', 'gc', 'init']),
  helm: new Set(['install', 'upgrade', 'uninstall', 'delete', 'rollback', 'repo', 'plugin', 'pull', 'push']),
};
/**
 * Subcommands that print a new credential minted from the connection's (which masking cannot
 * know): opaque, so only a rule that names them lets them run.
 */
const MINTS: Record<string, Set<string>> = {
  kubectl: new Set(['create token']),
  git: new Set(['credential fill']),
  helm: new Set(),
};
/** Global options before the subcommand that take the next word as their value. */
const VALUED: Record<string, Set<string>> = {
  kubectl: new Set(['-n', '--namespace', '--context', '--cluster', '--user', '--kubeconfig', '-s', '--server', '--token', '--as', '--as-group', '--request-timeout', '-v', '--v']),
  git: new Set(['-C', '-c', '--git-dir', '--work-tree', '--namespace']),
  helm: new Set(['-n', '--namespace', '--kube-context', '--kubeconfig']),
};
/** Flags that are the whole command: `git --version`, `kubectl --help`. */
const SELF_FLAGS = new Set(['--version', '-v', '--help', '-h']);

/** The subcommand words of argv (program first), or null when the options before them cannot be read. */
function subcommand(program: string, args: readonly string[]): string | null {
  const valued = VALUED[program]!;
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) {
    const a = args[i]!;
    if (i === 0 && args.length === 1 && SELF_FLAGS.has(a) && program === 'git') return 'version';
    if (a.includes('=')) i++;
    else if (valued.has(a)) i += 2;
    else return null; // an option we do not know: its value could be taken for the subcommand
  }
  const first = args[i];
  if (first === undefined) return null;
  const second = args[i + 1];
  const two = second !== undefined && !second.startsWith('-') ? `${first} ${second}` : null;
  if (two && (READS[program]!.has(two) || WRITES[program]!.has(two) || MINTS[program]!.has(two))) return two;
  return first;
}

export function classifyExec(argv: readonly string[]): Classification {
  const program = (argv[0] ?? '').split('/').pop()!;
  const sub = READS[program] ? subcommand(program, argv.slice(1)) : null;
  const mints = sub !== null && MINTS[program]!.has(sub);
  const category = sub === null || mints ? null : READS[program]!.has(sub) ? 'read' : WRITES[program]!.has(sub) ? 'write' : null;
  const what = sub !== null ? `${program} ${sub}` : program || 'an empty command';
  const why = mints ? `\`${what}\` prints a new credential minted from the connection's, which masking cannot know (no rule names it)` : `Warden does not know whether \`${what}\` reads or writes (no rule names it)`;
  const statement: Statement = {
    kind: 'other', node: what, tables: [], functions: [], noWhere: false, nested: [], ssh: { argv: [...argv] },
    ...(category
      ? { category, opaque: false }
      : { category: 'unknown', opaque: true, opaqueReason: why }),
  };
  return { key: JSON.stringify(argv), fingerprint: '', hasExecute: false, statements: [statement] };
}
