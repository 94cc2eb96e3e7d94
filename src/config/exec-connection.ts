// `type: exec` connections: a command the agent runs next to the resource, with credentials
// the caller never sees. The caller supplies only the arguments after `command`.
//
//   command: [kubectl, --kubeconfig, "${credentialFile:kubeconfig}"]
//   files:   { kubeconfig: "${file:./kubeconfig}" }     # written 0600 to a private dir per run
//   env:     { PGPASSWORD: "${env:PG_PASSWORD}" }       # credentials: masked in all output
//   plainEnv: { PGHOST: db.internal }                   # not secret: shown as-is
//
// `${credentialFile:NAME}` (in `command`, `env`, `plainEnv` and `cwd`) is the path of the file
// NAME on the machine that runs the command; it is filled in there, per run.
import { z } from 'zod';
import { duration } from './auth-schema.ts';

export const CREDENTIAL_FILE_REF = /\$\{credentialFile:([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** shorter credentials would mask ordinary output (a "1" in every line): they are refused */
export const MIN_SECRET_CHARS = 8;

const envName = z.string().regex(ENV_NAME, 'an environment variable name: letters, digits and "_", not starting with a digit');
const fileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a file name: letters, digits, "_", "." and "-" (no "/")');

export const execConnectionFields = {
  type: z.literal('exec'),
  /** the program and any fixed leading arguments; the caller's arguments follow them */
  command: z.array(z.string().min(1).refine((s) => !s.includes('\0'), 'no NUL characters')).min(1, 'at least the program to run'),
  /** credentials as environment variables; their values are masked wherever output or records carry them */
  env: z.record(envName, z.string().min(MIN_SECRET_CHARS, `a credential of at least ${MIN_SECRET_CHARS} characters (put values that are not secret under plainEnv)`)).default({}),
  /** environment variables that are not secret (PGHOST, PGAPPNAME) */
  plainEnv: z.record(envName, z.string()).default({}),
  /** credential files by name: written with mode 0600 into a private directory for each run, removed after; masked in output */
  files: z.record(fileName, z.string()).default({}),
  /** working directory of the command (default: the run's private directory) */
  cwd: z.string().min(1).optional(),
  /** the command is killed (its whole process group) after this long */
  timeout: duration('5m'),
};

/** Every `${credentialFile:NAME}` must name one of `files` (checked with the key path). */
export function checkCredentialFileRefs(c: { command: string[]; env: Record<string, string>; plainEnv: Record<string, string>; files: Record<string, string>; cwd?: string | undefined }, ctx: z.RefinementCtx): void {
  const check = (value: string, path: (string | number)[]) => {
    for (const m of value.matchAll(CREDENTIAL_FILE_REF)) {
      if (!Object.hasOwn(c.files, m[1]!)) ctx.addIssue({ code: 'custom', path, message: `\${credentialFile:${m[1]}} names no entry of files (${Object.keys(c.files).join(', ') || 'none'})` });
    }
  };
  c.command.forEach((a, i) => check(a, ['command', i]));
  for (const [k, v] of Object.entries(c.env)) check(v, ['env', k]);
  for (const [k, v] of Object.entries(c.plainEnv)) check(v, ['plainEnv', k]);
  if (c.cwd) check(c.cwd, ['cwd']);
  for (const k of Object.keys(c.env)) if (Object.hasOwn(c.plainEnv, k)) ctx.addIssue({ code: 'custom', path: ['plainEnv', k], message: `${k} is also under env` });
}
