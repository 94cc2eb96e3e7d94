// The target's functions, for judging calls: which names are its own built-ins (in
// pg_catalog, made at initdb: OID below 16384) and which are defined in the database
// (anything else: user functions, procedures, extensions), and what a fast-path call's
// function OID names. Looked up on the gateway's own short connection (like table names,
// see catalog.ts), shared by every session of a connection, refreshed in the background.
//
// Fail closed: until the first lookup answers, or when it fails, nothing is built in, so
// every call of a function is opaque (the connection's onUnknown). A name counts as
// built in only when no database-defined function has it in any schema, since such a
// function can win the resolution of an unqualified call (search_path, a better argument
// match). Functions a session creates are not visible to the lookup before it commits, so
// sessions keep their own list too (see SessionFunctions).
import type { FunctionFacts, TargetFacts } from '../../session/types.ts';
import { withTimeout, type CatalogQuery } from './catalog.ts';

/** First OID of an object not made by initdb. */
const FIRST_NORMAL_OID = 16384;

export interface FunctionInfo {
  schema: string;
  name: string;
  /** f function, p procedure, a aggregate, w window */
  kind: string;
  /** OID of the type it returns */
  returns: number;
  builtin: boolean;
}

interface Names {
  builtin: Set<string>;
  /** name -> the schemas where the database defines a function of that name */
  defined: Map<string, string[]>;
}

export interface FunctionCatalogOptions {
  ttlMs?: number;
  failureTtlMs?: number;
  timeoutMs?: number;
  onFailure?: (e: Error) => void;
}

const NOTHING_BUILT_IN: FunctionFacts = { isBuiltin: () => false, schemasOf: () => [] };

export class FunctionCatalog {
  private names: { value: Names | null; expires: number } | null = null;
  private loading: Promise<void> | null = null;
  private readonly byOid = new Map<number, { info: FunctionInfo | null; expires: number }>();
  private readonly ttlMs: number;
  private readonly failureTtlMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly query: CatalogQuery,
    private readonly opts: FunctionCatalogOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.failureTtlMs = opts.failureTtlMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  /**
   * What is built in. The first call waits for the lookup; later ones get the last answer
   * at once while a stale one is refreshed behind (a function created since is in neither
   * list, so it is not built in: staleness fails closed, except for a database-defined
   * function that shadows a built-in, which `invalidate` covers for the gateway's sessions).
   */
  facts(): FunctionFacts | Promise<FunctionFacts> {
    const n = this.names;
    if (n && n.expires > Date.now()) return factsOf(n.value);
    const refresh = this.load();
    if (n && n.value) return factsOf(n.value); // stale but good: serve it, refresh behind
    return refresh.then(() => factsOf(this.names?.value ?? null));
  }

  /** A session changed functions (DDL): the next judgment waits for a fresh lookup. */
  invalidate(): void {
    this.names = null;
    this.byOid.clear();
  }

  /** The function an OID names (fast-path calls); null when the target has none or cannot be asked. */
  async function(oid: number): Promise<FunctionInfo | null> {
    const now = Date.now();
    const hit = this.byOid.get(oid);
    if (hit && hit.expires > now) return hit.info;
    let info: FunctionInfo | null = null;
    let ok = true;
    try {
      if (!Number.isInteger(oid) || oid <= 0 || oid > 0xffffffff) throw new Error(`invalid function OID ${oid}`);
      const rows = await withTimeout(
        this.query(
          'SELECT n.nspname, p.proname, p.prokind, p.prorettype FROM pg_catalog.pg_proc p ' +
            `JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = ${oid}`,
        ),
        this.timeoutMs,
        'the function lookup timed out',
      );
      const [schema, name, kind, returns] = rows[0] ?? [];
      if (schema != null && name != null) info = { schema, name, kind: kind ?? 'f', returns: Number(returns), builtin: oid < FIRST_NORMAL_OID && schema === 'pg_catalog' };
    } catch (e) {
      ok = false;
      this.opts.onFailure?.(e as Error);
    }
    this.byOid.set(oid, { info, expires: Date.now() + (ok && info ? this.ttlMs : this.failureTtlMs) });
    return info;
  }

  private load(): Promise<void> {
    this.loading ??= this.lookup().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async lookup(): Promise<void> {
    let value: Names | null = null;
    try {
      const rows = await withTimeout(
        this.query(
          `SELECT DISTINCT 'b', '', p.proname FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace AND p.oid < ${FIRST_NORMAL_OID} ` +
            `UNION ALL SELECT DISTINCT 'd', n.nspname, p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid >= ${FIRST_NORMAL_OID}`,
        ),
        this.timeoutMs,
        'the function lookup timed out',
      );
      value = { builtin: new Set(), defined: new Map() };
      for (const [kind, schema, name] of rows) {
        if (name == null) continue;
        if (kind === 'b') value.builtin.add(name);
        else {
          const list = value.defined.get(name);
          if (list) list.push(schema ?? '');
          else value.defined.set(name, [schema ?? '']);
        }
      }
    } catch (e) {
      this.opts.onFailure?.(e as Error);
    }
    this.names = { value, expires: Date.now() + (value ? this.ttlMs : this.failureTtlMs) };
  }
}

function factsOf(n: Names | null): FunctionFacts {
  if (!n) return NOTHING_BUILT_IN;
  return {
    isBuiltin: (ref) => (ref.schema === undefined ? n.builtin.has(ref.name) && !n.defined.has(ref.name) : ref.schema === 'pg_catalog' && n.builtin.has(ref.name)),
    schemasOf: (name) => n.defined.get(name) ?? [],
  };
}

/**
 * One session's view: the shared catalog, plus the functions this session has defined
 * (visible to it at once, to the lookup only after commit). After DDL whose new names
 * cannot be read off the statement (CREATE EXTENSION, DO blocks), no unqualified call
 * counts as built in until the transaction ends and the catalog was read again.
 */
export class SessionFunctions implements TargetFacts {
  private readonly defined = new Set<string>();
  private unsure = false;

  constructor(private readonly catalog: FunctionCatalog) {}

  functions(): FunctionFacts | Promise<FunctionFacts> {
    const f = this.catalog.facts();
    return f instanceof Promise ? f.then((x) => this.wrap(x)) : this.wrap(f);
  }

  private wrap(shared: FunctionFacts): FunctionFacts {
    if (this.defined.size === 0 && !this.unsure) return shared;
    return {
      isBuiltin: (ref) => {
        if (ref.schema === undefined && (this.unsure || this.defined.has(ref.name))) return false;
        return shared.isBuiltin(ref);
      },
      // a function this session defined may live in a schema the shared lookup does not know yet
      schemasOf: (name) => (this.unsure || this.defined.has(name) ? [] : shared.schemasOf(name)),
    };
  }

  /** This session ran DDL on functions: `name` when the statement says which, else unknown ones. */
  changed(name: string | undefined): void {
    if (name !== undefined) this.defined.add(name);
    else this.unsure = true;
    this.catalog.invalidate();
  }

  /** A transaction ended: what it committed is visible to a fresh lookup now. */
  transactionEnded(): void {
    if (this.defined.size === 0 && !this.unsure) return;
    this.catalog.invalidate();
    this.unsure = false;
    // Names this session defined stay its own: a dropped-then-recreated shadow must not slip by.
  }
}
