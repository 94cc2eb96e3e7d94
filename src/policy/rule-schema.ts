// The shape of a rule, for warden.yaml's global `rules:` and a connection's `rules:`, and
// for the API. A rule matches statements; its action applies to the statements it matches.
import { z } from 'zod';
import { CATEGORIES, STATEMENT_KINDS } from '../sql/types.ts';
import { parseDuration } from '../config/duration.ts';
import { bodyMatchSchema, headersMatchSchema, queryMatchSchema } from './http-rule-schema.ts';
import { gitMatchSchema } from './git-rule-schema.ts';
import { forwardingMatchSchema } from './ssh-forwarding.ts';

export { parseDuration };

const names = z.array(z.string().min(1)).min(1);

/** The connection types a rule can name (one per engine). */
export const CONNECTION_TYPES = ['postgres', 'mysql', 'http', 'ssh', 'git', 'exec'] as const;

export const ruleMatchSchema = z.strictObject({
  /** identity name or subject; `*` globs */
  users: names.optional(),
  /** any of the identity's groups; `*` globs */
  groups: names.optional(),
  /** connection names; `*` globs */
  connections: names.optional(),
  /** connection types, i.e. the protocol a command arrives in: `postgres`, `mysql`, `http`, `ssh`, `git` */
  types: z.array(z.enum(CONNECTION_TYPES)).min(1).optional(),
  kinds: z.array(z.enum(STATEMENT_KINDS)).min(1).optional(),
  categories: z.array(z.enum(CATEGORIES)).min(1).optional(),
  /** `secrets`, `public.*`, `*.secrets`, `"MixedCase"`: SQL identifier rules, `*` globs (see names.ts) */
  tables: names.optional(),
  /** `pg_read_file`, `pg_catalog.pg_*` */
  functions: names.optional(),
  /** an UPDATE or DELETE without WHERE */
  noWhere: z.literal(true).optional(),
  /** COPY ... PROGRAM */
  copyProgram: z.literal(true).optional(),
  /** statements that cannot be seen through (DO, dynamic SQL, unknown EXECUTE, unparseable) */
  opaque: z.literal(true).optional(),
  /** HTTP requests (http connections): their methods, `GET`, `DELETE` */
  methods: z.array(z.string().regex(/^[A-Za-z]+$/, 'an HTTP method').transform((m) => m.toUpperCase())).min(1).optional(),
  /** HTTP requests: their paths (the part after /proxy/<connection>), `*` globs any characters: `/v1/messages`, `/admin/*` */
  paths: z.array(z.string().startsWith('/', 'a path starts with /')).min(1).optional(),
  /** HTTP requests: query parameters, `{ stream: "true" }`; globs; a parameter sent twice counts each value */
  query: queryMatchSchema.optional(),
  /** HTTP requests: headers by name (any case), `{ anthropic-beta: "*" }`; globs; every value of a repeated header */
  headers: headersMatchSchema.optional(),
  /** HTTP requests: JSON body fields by path, `{ model: "claude-opus-*", "tools[*].name": [bash], max_tokens: { gt: 4096 } }` */
  body: bodyMatchSchema.optional(),
  /**
   * Shell commands (ssh connections): globs over a command's words joined by spaces, `*` any
   * characters: `rm *`, `systemctl restart *`, `uname*`. Each command of a chained line is judged.
   * Exec connections: the program's name and the caller's arguments (`kubectl get *`); a rule
   * naming them applies even to a command Warden cannot say reads or writes.
   */
  commands: names.optional(),
  /** Git operations (git connections): `{ refs: [refs/heads/main], force: true }` (git-rule-schema.ts) */
  git: gitMatchSchema.optional(),
  /**
   * Forwarding through ssh connections, off unless an allow rule names it: `local` (ssh -L, -D)
   * destinations and `remote` (ssh -R) listen addresses as `host:port` globs, `agent: true` (ssh -A).
   * A rule with it matches only forwarded connections.
   */
  forwarding: forwardingMatchSchema.optional(),
  /** last resort: a case-insensitive regular expression over the whole command text */
  regex: z
    .string()
    .min(1)
    .refine((r) => {
      try {
        new RegExp(r, 'i');
        return true;
      } catch {
        return false;
      }
    }, 'not a valid regular expression')
    .optional(),
});

export const reviewSpecSchema = z.strictObject({
  /** groups whose members may approve */
  groups: names,
  /** distinct approvals needed */
  approvals: z.number().int().min(1).default(1),
  /** how long the review stays open */
  timeout: z
    .string()
    .refine((t) => {
      try {
        return parseDuration(t) > 0;
      } catch {
        return false;
      }
    }, 'expected a duration like 30s, 15m, 1h')
    .default('15m'),
});

export const ruleSchema = z
  .strictObject({
    name: z.string().min(1),
    /** all conditions must hold; an empty match matches every statement */
    match: ruleMatchSchema.default({}),
    action: z.enum(['allow', 'block', 'review']),
    /** shown to the client when the rule blocks or holds a command */
    message: z.string().optional(),
    review: reviewSpecSchema.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.review && r.action !== 'review') {
      ctx.addIssue({ code: 'custom', path: ['review'], message: 'only a rule with action "review" takes review settings' });
    }
    if (r.match.regex !== undefined && r.action === 'allow') {
      // text matching can say a command looks dangerous, never prove it safe
      ctx.addIssue({ code: 'custom', path: ['match', 'regex'], message: 'regex can only block or review, not allow' });
    }
    if (r.match.forwarding !== undefined) {
      if (r.match.types && !r.match.types.includes('ssh')) ctx.addIssue({ code: 'custom', path: ['match', 'forwarding'], message: 'forwarding is only through ssh connections: add ssh to types or leave types out' });
      // a forwarded connection has no command words: such a rule could never match
      if (r.match.commands) ctx.addIssue({ code: 'custom', path: ['match', 'forwarding'], message: 'a rule names either commands or forwarding, not both' });
    }
  });

export const rulesSchema = z.array(ruleSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate rule name "${r.name}"` });
    seen.add(r.name);
  });
});

export type Rule = z.infer<typeof ruleSchema>;
export type RuleInput = z.input<typeof ruleSchema>;
export type RuleMatch = z.infer<typeof ruleMatchSchema>;
export type ReviewSpec = z.infer<typeof reviewSpecSchema>;
export type RuleAction = Rule['action'];
