// Functions defined in the database can run anything (a `SELECT f()` whose body deletes
// rows, a procedure behind CALL), and their bodies are not in the command's text. So a
// statement that calls one is opaque, like a DO block, unless a rule names the function;
// the target's catalog (FunctionFacts) says which calls are its own built-ins.
import type { FunctionFacts } from '../session/types.ts';
import { formatName, type Classification, type FunctionRef, type Statement } from '../sql/types.ts';

/** Does any statement (nested ones included) call a function? */
export function callsFunctions(c: Classification): boolean {
  const any = (list: readonly Statement[]): boolean => list.some((s) => s.functions.length > 0 || any(s.nested));
  return any(c.statements);
}

/**
 * The classification with each statement that calls database-defined functions marked
 * opaque (on copies: classifications are shared); the same object when every call is a
 * built-in. Procedures are never built in (CALL always runs database code).
 */
export function annotateFunctions(c: Classification, facts: FunctionFacts): Classification {
  let changed = false;
  const visit = (s: Statement): Statement => {
    const user: FunctionRef[] = s.functions.filter((f) => s.kind === 'call' || !facts.isBuiltin(f));
    const nested = s.nested.length ? s.nested.map(visit) : s.nested;
    const nestedChanged = nested !== s.nested && nested.some((n, i) => n !== s.nested[i]);
    if (user.length === 0 && !nestedChanged) return s;
    changed = true;
    const out: Statement = { ...s, nested: nestedChanged ? nested : s.nested };
    if (user.length) {
      // An unqualified call resolves to a function of that name in some schema: name each
      // schema that has one, so a rule allowing `public.f` vouches for `f()` only when no
      // other schema has an `f` (unknown ones stay unqualified and match no schema-bound rule).
      out.userFunctions = user.flatMap((f) => {
        const schemas = f.schema === undefined ? facts.schemasOf(f.name) : [];
        return schemas.length ? schemas.map((schema) => ({ schema, name: f.name })) : [f];
      });
      out.opaqueByFunctions = !s.opaque;
      out.opaque = true;
      const names = user.map((f) => `${formatName(f)}()`).join(', ');
      out.opaqueReason = s.opaque
        ? s.opaqueReason
        : `${s.kind === 'call' ? 'calls procedure' : 'calls'} ${names}, defined in the database: what ${user.length > 1 ? 'they run' : 'it runs'} cannot be seen`;
    }
    return out;
  };
  const statements = c.statements.map(visit);
  return changed ? { ...c, statements, targetDependent: true } : c;
}

/** A command the engine could not see through: one opaque statement carrying the reason. */
export function opaqueCommand(reason: string): Classification {
  return {
    key: '',
    fingerprint: '',
    hasExecute: false,
    statements: [{ kind: 'unknown', category: 'unknown', node: '', tables: [], functions: [], noWhere: false, opaque: true, opaqueReason: reason, nested: [] }],
  };
}
