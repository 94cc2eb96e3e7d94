// The rule key over Git operations (git connections):
//
//   match: { types: [git], git: { refs: [refs/heads/main, refs/heads/release/*], force: true } }
//
// `repos` globs the repository path (`org/*`, with or without `.git`), `refs` globs full ref
// names (`*` any characters, `/` included); `force`, `create` and `delete` select ref updates
// of that sort. Conditions on refs or update sorts select push statements only (one per ref
// updated); `categories: [read]` selects clones and fetches, `[write]` pushes.
import { z } from 'zod';

const globs = z.array(z.string().min(1)).min(1);

export const gitMatchSchema = z
  .strictObject({
    repos: globs.optional(),
    refs: z.array(z.string().startsWith('refs/', 'a full ref name, e.g. refs/heads/main or refs/tags/*')).min(1).optional(),
    /** an update not proven a fast-forward (rewrites history; what cannot be proven counts) */
    force: z.literal(true).optional(),
    create: z.literal(true).optional(),
    delete: z.literal(true).optional(),
  })
  .refine((g) => Object.keys(g).length > 0, 'git names at least one of repos, refs, force, create, delete');

export type GitMatch = z.infer<typeof gitMatchSchema>;
