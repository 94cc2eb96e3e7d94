// An HTTP request as the policy sees it: the command text is `METHOD /path?query`; its facts
// are the method and the path (query included), and, from the engine, its headers and its
// JSON body when a rule needs them. Its category is `read` for the safe methods (RFC 9110:
// GET, HEAD, OPTIONS) and `write` for every other, an upgrade (a WebSocket) included: a GET
// that becomes a socket carries messages both ways, so a rule allowing reads does not allow it. Rules name them with `methods`, `paths`,
// `query`, `headers` and `body`. A body that a rule needs but that cannot be read (over the
// cap, not JSON, compressed, a key twice) makes the request opaque: it falls to onUnknown.
import type { Classification, HttpRequestFacts } from '../sql/types.ts';
import { opaqueCommand } from './target-functions.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function classifyHttp(text: string, facts?: HttpRequestFacts): Classification {
  const m = /^([A-Z]+) (\/\S*)$/.exec(text);
  if (!m) return opaqueCommand('not an HTTP request line');
  const method = m[1]!;
  const opaque = facts?.body !== undefined && 'opaque' in facts.body ? `the request body cannot be judged: ${facts.body.opaque}` : undefined;
  return {
    key: text,
    fingerprint: '',
    hasExecute: false,
    // headers and body are not in the text: a decision over them is not cached by it
    ...(facts?.headers || facts?.body ? { targetDependent: true } : {}),
    statements: [{
      kind: 'other', category: SAFE.has(method) && !facts?.upgrade ? 'read' : 'write', node: method, tables: [], functions: [], noWhere: false, nested: [],
      opaque: opaque !== undefined, ...(opaque !== undefined ? { opaqueReason: opaque } : {}),
      http: { method, path: m[2]!, ...facts },
    }],
  };
}
