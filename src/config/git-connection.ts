// `type: git` connections: a Git remote reached over smart HTTP. `url` is the base the
// repository path is appended to (`https://github.com` + `/org/repo.git`); the credential is
// the gateway's own, put on every request it sends there: Basic auth (`username` +
// `password`, e.g. `x-access-token` + a GitHub token) or a header (`header` + `value`, with
// an optional `scheme`), as for http connections. The loader never echoes it (load.ts).
import { z } from 'zod';

const basic = z.strictObject({ username: z.string().min(1), password: z.string().min(1) });
const header = z.strictObject({ header: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), value: z.string().min(1), scheme: z.string().min(1).optional() });

/** Dispatched by key so a mistake names the form's key, and never echoes the secret. */
export const gitCredentialSchema = z.unknown().transform((v, ctx): z.output<typeof basic> | z.output<typeof header> => {
  const form = v && typeof v === 'object' ? ('username' in v ? basic : 'header' in v ? header : null) : null;
  if (!form) {
    ctx.issues.push({ code: 'custom', message: 'expected username + password (Basic auth) or header + value', input: '' });
    return z.NEVER;
  }
  const r = (form as typeof basic).safeParse(v);
  if (r.success) return r.data;
  for (const i of r.error.issues) ctx.issues.push({ ...i, input: undefined } as never);
  return z.NEVER;
});

export const gitConnectionFields = {
  type: z.literal('git'),
  /** the remote's base URL; /git/<name>/<repo path> reaches <url>/<repo path> */
  url: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    // the URL is shown to callers (connections list): a secret in it would leak
    .refine((u) => !new URL(u).username && !new URL(u).password, 'no user or password in the URL: put the remote\'s credential under credential'),
  /** https: the CA to trust (a PEM or a file), and whether the certificate is verified (default true) */
  tls: z.strictObject({ ca: z.string().optional(), verify: z.boolean().default(true) }).optional(),
  credential: gitCredentialSchema.optional(),
  /** a push's pack is read whole (to a temporary file) before it is judged: at most this many bytes (default 2 GiB) */
  maxPushBytes: z.number().int().min(1024).default(2 * 1024 * 1024 * 1024),
};
