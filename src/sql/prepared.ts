// Per-session memory of prepared statements, so `EXECUTE p` is judged as what `p` runs.
//
// The gateway cannot know for sure which PREPARE the server accepted (a PREPARE may fail
// because the name exists, a DEALLOCATE may fail in an aborted transaction). So a name
// maps to EVERY body ever prepared under it in this session, and EXECUTE is judged as all
// of them: conservative, never fooled by a failed re-PREPARE. DEALLOCATE forgets nothing.
// An EXECUTE of a name never seen stays opaque (the connection's onUnknown).
import { runsDynamicSql } from './dynamic-functions.ts';
import type { Classification, Statement } from './types.ts';

export interface PreparedStatementsOptions {
  /** names remembered; an EXECUTE of a name beyond this stays opaque */
  maxNames?: number;
  /** bodies remembered per name; beyond this the name is judged opaque */
  maxBodiesPerName?: number;
}

export class PreparedStatements {
  private readonly bodies = new Map<string, Statement[] | null>();
  private readonly maxNames: number;
  private readonly maxBodies: number;

  constructor(opts: PreparedStatementsOptions = {}) {
    this.maxNames = opts.maxNames ?? 1000;
    this.maxBodies = opts.maxBodiesPerName ?? 16;
  }

  /**
   * Remember a named statement prepared outside SQL text, e.g. the extended protocol's
   * Parse with a statement name (it shares the namespace of SQL PREPARE).
   */
  register(name: string, body: readonly Statement[]): void {
    if (!this.bodies.has(name) && this.bodies.size >= this.maxNames) return;
    const list = this.bodies.get(name);
    if (list === null) return; // already judged opaque
    const next = [...(list ?? []), ...body];
    this.bodies.set(name, next.length > this.maxBodies ? null : next);
  }

  /**
   * Apply the command's PREPAREs and resolve its EXECUTEs, in statement order. Returns the
   * classification to judge: the same object when nothing refers to prepared statements.
   */
  resolve(c: Classification): Classification {
    if (!c.statements.some(usesPrepared)) return c;
    return { ...c, statements: c.statements.map((s) => this.visit(s)) };
  }

  private visit(s: Statement): Statement {
    if (s.kind === 'prepare' && s.prepared !== undefined) {
      this.register(s.prepared, s.nested);
      return s;
    }
    if (s.kind === 'execute' && s.prepared !== undefined) {
      const bodies = this.bodies.get(s.prepared);
      if (!bodies) {
        if (bodies === null) return { ...s, opaque: true, opaqueReason: `prepared statement "${s.prepared}" was prepared too many times to follow` };
        return s; // unknown name: stays opaque as classified
      }
      // judged as every body ever prepared under the name; parameters' own calls still count
      const dynamic = s.functions.find((f) => runsDynamicSql(f.name));
      return {
        ...s,
        opaque: dynamic !== undefined,
        opaqueReason: dynamic ? `${dynamic.name}() runs SQL given as text, which cannot be seen through` : undefined,
        nested: bodies,
      };
    }
    if (!s.nested.some(usesPrepared)) return s;
    return { ...s, nested: s.nested.map((n) => this.visit(n)) };
  }
}

function usesPrepared(s: Statement): boolean {
  return s.kind === 'prepare' || s.kind === 'execute' || s.nested.some(usesPrepared);
}
