// Whether rules read schemas: a table or function pattern with a schema part needs the
// session's search path to resolve an unqualified name (the engine then keeps it known).
import { parseNamePattern } from './names.ts';
import type { Rule } from './rule-schema.ts';

export function rulesReadSchemas(rules: readonly Rule[]): boolean {
  return rules.some((r) => [...(r.match.tables ?? []), ...(r.match.functions ?? [])].some((p) => parseNamePattern(p).schema !== undefined));
}
