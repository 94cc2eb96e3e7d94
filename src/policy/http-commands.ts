// An HTTP request as the policy sees it: the command text is `METHOD /path?query`; its facts
// are the method and the path, and its category is `read` for the safe methods (RFC 9110:
// GET, HEAD, OPTIONS) and `write` for every other. Rules name them with `methods` and `paths`.
import type { Classification } from '../sql/types.ts';
import { opaqueCommand } from './target-functions.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function classifyHttp(text: string): Classification {
  const m = /^([A-Z]+) (\/\S*)$/.exec(text);
  if (!m) return opaqueCommand('not an HTTP request line');
  const method = m[1]!;
  return {
    key: text,
    fingerprint: '',
    hasExecute: false,
    statements: [{ kind: 'other', category: SAFE.has(method) ? 'read' : 'write', node: method, tables: [], functions: [], noWhere: false, opaque: false, nested: [], http: { method, path: m[2]! } }],
  };
}
