// The rule keys over what an HTTP request carries besides its method and path:
//
//   match: { types: [http], query: { stream: "true" }, headers: { anthropic-beta: "*" },
//            body: { model: ["claude-opus-*"], "tools[*].name": [bash, computer], max_tokens: { gt: 4096 } } }
//
// A value is a glob (`*` any run of characters) or a list of them, compared with a value's
// text (a JSON number or boolean by its JSON text: `stream: "true"` matches `true`); a body
// field may instead take a numeric comparison (gt, gte, lt, lte: all given must hold). A body
// field is a path into the JSON: `a.b`, `a[*].b` (every element), `a[0]`.
import { z } from 'zod';

/**
 * Where a caller's Warden token rides on a request (protocols/http/caller-token.ts): removed
 * before the request leaves, so never judged.
 */
export const CALLER_HEADERS: readonly string[] = ['proxy-authorization', 'authorization', 'x-api-key'];

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]).transform((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
const globs = z
  .union([scalar, z.array(scalar).min(1)], { error: 'expected a glob or a list of globs' })
  .transform((v) => (Array.isArray(v) ? v : [v]));

export const comparisonSchema = z
  .strictObject({ gt: z.number().optional(), gte: z.number().optional(), lt: z.number().optional(), lte: z.number().optional() })
  .refine((c) => Object.values(c).some((v) => v !== undefined), 'a comparison names gt, gte, lt or lte');

export type Comparison = z.infer<typeof comparisonSchema>;
export type FieldCondition = string[] | Comparison;

/** One step of a body path: an object key, an array index, or every element (`[*]`). */
export type PathStep = { key: string } | { index: number } | { every: true };

const PATH = /^(?:[^.[\]]+|\[(?:\*|\d+)\])(?:\[(?:\*|\d+)\])*(?:\.[^.[\]]+(?:\[(?:\*|\d+)\])*)*$/;

/** `tools[*].name` -> [{key: tools}, {every}, {key: name}]; null when not a path. */
export function parseBodyPath(path: string): PathStep[] | null {
  if (!PATH.test(path)) return null;
  const steps: PathStep[] = [];
  for (const m of path.matchAll(/\[(\*|\d+)\]|([^.[\]]+)/g)) {
    if (m[2] !== undefined) steps.push({ key: m[2] });
    else if (m[1] === '*') steps.push({ every: true });
    else steps.push({ index: Number(m[1]) });
  }
  return steps;
}

export const queryMatchSchema = z
  .record(z.string().min(1), globs)
  .refine((r) => Object.keys(r).length > 0, 'query names at least one parameter');

// Header names are compared without case; the headers that carry the caller's Warden token
// never reach the target, so a rule over them would judge something the target never sees.
export const headersMatchSchema = z
  .record(z.string(), globs)
  .superRefine((r, ctx) => {
    if (Object.keys(r).length === 0) ctx.addIssue({ code: 'custom', message: 'headers names at least one header' });
    for (const name of Object.keys(r)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is not a header name` });
      else if (CALLER_HEADERS.includes(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: `${name} carries the caller's Warden token and is removed before the request leaves: a rule cannot judge it` });
    }
  })
  .transform((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v])));

export const bodyMatchSchema = z
  .record(z.string(), z.union([comparisonSchema, globs], { error: 'expected a glob, a list of globs, or a comparison like { gt: 4096 }' }))
  .superRefine((r, ctx) => {
    if (Object.keys(r).length === 0) ctx.addIssue({ code: 'custom', message: 'body names at least one field' });
    for (const path of Object.keys(r)) {
      if (!parseBodyPath(path)) ctx.addIssue({ code: 'custom', path: [path], message: `"${path}" is not a body field path (like model, tools[*].name, messages[0].role)` });
    }
  });
