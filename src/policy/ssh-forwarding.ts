// Forwarding through an SSH door as the policy sees it. Each forwarded connection (and each
// request for one) is a command whose facts are its kind and, for ports, `host:port`:
// `local` the destination the target connects to (ssh -L, -D), `remote` the address the
// target listens on (ssh -R), `agent` the caller's agent (ssh -A). Rules name them with
// `forwarding: { local: [...], remote: [...], agent: true }`.
//
// Forwarding is off by default: an allow rule must name it (a rule that allows "everything"
// does not), and a forward no rule matches is blocked (policy.ts). Host names are matched as
// the caller wrote them (lowercase, without a trailing dot); the target resolves them, so a
// list of allowed destinations is a boundary, a list of blocked host names is not (an IP
// address or another name for the same host passes it).
import { z } from 'zod';
import type { Classification, ForwardFacts, Statement } from '../sql/types.ts';
import { globToRegExp } from './names.ts';

/** `db.internal:5432`, `*.internal:443`, `10.0.0.*:*`, `[::1]:22`: a host glob and a port or `*` */
const PATTERN = /^(\[[0-9A-Fa-f:.*]+\]|[^\s:[\]]+):(\*|\d{1,5})$/;

const patterns = z
  .array(
    z.string().refine((p) => {
      const m = PATTERN.exec(p);
      return m !== null && (m[2] === '*' || Number(m[2]) <= 65535);
    }, 'expected host:port (globs with *, e.g. db.internal:5432, *.internal:443, [::1]:22)'),
  )
  .min(1);

export const forwardingMatchSchema = z
  .strictObject({
    /** ssh -L and -D: destinations the target may connect to for the caller */
    local: patterns.optional(),
    /** ssh -R: addresses the target may listen on for the caller (`localhost:8080`, `*:8080` any bind address) */
    remote: patterns.optional(),
    /** ssh -A: the target's processes may use the caller's agent */
    agent: z.literal(true).optional(),
  })
  .refine((f) => f.local !== undefined || f.remote !== undefined || f.agent !== undefined, 'name local, remote or agent');

export type ForwardingMatch = z.infer<typeof forwardingMatchSchema>;

/** A host as matched and recorded: lowercase, no trailing dot, an IPv6 address in brackets ('' is every address: `*`). */
export function forwardHost(host: string): string {
  if (host === '') return '*';
  const h = host.toLowerCase().replace(/\.+$/, '');
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** `local db.internal:5432`, `remote localhost:8080`, `agent` */
export function describeForward(f: ForwardFacts): string {
  return f.kind === 'agent' ? 'agent' : `${f.kind} ${forwardHost(f.host)}:${f.port}`;
}

export function classifyForward(f: ForwardFacts): Classification {
  const what = describeForward(f);
  const statement: Statement = {
    // bytes go both ways: never a read
    kind: 'other', category: 'write', node: `forward ${f.kind}`, tables: [], functions: [], noWhere: false, opaque: false, nested: [],
    forward: f.kind === 'agent' ? f : { kind: f.kind, host: forwardHost(f.host), port: f.port },
  };
  // Never cached: with a regex rule in play the policy caches by text, and an exec of the
  // words "forward local x" must not share a forward's decision (nor a forward an exec's).
  return { key: `\u0000forward\u0000${what}`, fingerprint: '', hasExecute: false, targetDependent: true, statements: [statement] };
}

/** A rule's `forwarding:` as a test of one forward. */
export function compileForwarding(m: ForwardingMatch): (f: ForwardFacts) => boolean {
  const list = (ps: string[] | undefined) =>
    ps?.map((p) => {
      const cut = p.lastIndexOf(':');
      return new RegExp(globToRegExp(`${forwardHost(p.slice(0, cut))}:${p.slice(cut + 1)}`).source, 'i');
    });
  const local = list(m.local);
  const remote = list(m.remote);
  return (f) => {
    if (f.kind === 'agent') return m.agent === true;
    const at = `${forwardHost(f.host)}:${f.port}`;
    return (f.kind === 'local' ? local : remote)?.some((r) => r.test(at)) ?? false;
  };
}
