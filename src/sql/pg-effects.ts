// What running a Postgres statement changes in its session's server-side state, read off
// the parse tree: prepared statements and cursors (a namespace the extended protocol
// shares), the search_path that resolves unqualified names, the functions that exist,
// and transaction boundaries. Engines follow these to keep their view of the session
// equal to the server's; nothing here decides anything. Literal values are never read
// (classifications are cached by normalized text): a SET of search_path says "it
// changed", and the engine asks the server what it is now.
import type { SessionEffect } from './types.ts';

type Obj = Record<string, unknown>;

/** Objects whose DDL can create, rename, move or remove a callable function. */
const FUNCTION_OBJECTS = new Set([
  'OBJECT_FUNCTION', 'OBJECT_PROCEDURE', 'OBJECT_ROUTINE', 'OBJECT_AGGREGATE', 'OBJECT_OPERATOR',
  'OBJECT_EXTENSION', 'OBJECT_CAST', 'OBJECT_TRANSFORM', 'OBJECT_LANGUAGE', 'OBJECT_SCHEMA',
]);

/** Statement nodes that always change which functions exist (or what they do). */
const FUNCTION_DDL = new Set([
  'CreateFunctionStmt', 'AlterFunctionStmt', 'DefineStmt', 'CreateExtensionStmt', 'AlterExtensionStmt',
  'AlterExtensionContentsStmt', 'CreateCastStmt', 'CreateTransformStmt', 'CreatePLangStmt', 'CreateSchemaStmt',
]);

const TRANSACTION_ENDS = new Set([
  'TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK', 'TRANS_STMT_ROLLBACK_TO', 'TRANS_STMT_PREPARE',
  'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED', 'TRANS_STMT_RELEASE',
]);

/** The effect of one statement node on its session, or undefined when it has none worth following. */
export function sessionEffect(node: string, b: Obj): SessionEffect | undefined {
  let e: SessionEffect | undefined;
  const set = (patch: SessionEffect) => (e = { ...e, ...patch });
  switch (node) {
    case 'PrepareStmt':
      set({ prepare: String(b.name ?? '') });
      break;
    case 'DeallocateStmt':
      set({ deallocate: b.isall === true || b.name === undefined ? '*' : String(b.name) });
      break;
    case 'DeclareCursorStmt':
      set({ declare: String(b.portalname ?? '') });
      break;
    case 'ClosePortalStmt':
      set({ close: typeof b.portalname === 'string' ? b.portalname : '*' });
      break;
    case 'DiscardStmt':
      // ALL: everything below; TEMP: the temporary schema (search_path's pg_temp) goes
      if (b.target === 'DISCARD_ALL') set({ deallocate: '*', close: '*', searchPath: true, textSettings: true });
      else if (b.target === 'DISCARD_TEMP') set({ searchPath: true });
      break;
    case 'VariableSetStmt':
      if (b.name === 'search_path' || b.kind === 'VAR_RESET_ALL') set({ searchPath: true });
      if (b.name === 'standard_conforming_strings' || b.kind === 'VAR_RESET_ALL') set({ textSettings: true });
      break;
    case 'TransactionStmt':
      if (TRANSACTION_ENDS.has(String(b.kind))) set({ transactionEnd: true });
      break;
    case 'DropStmt':
    case 'RenameStmt':
    case 'AlterObjectSchemaStmt':
    case 'AlterOwnerStmt': {
      const type = String(b.removeType ?? b.renameType ?? b.objectType ?? '');
      if (FUNCTION_OBJECTS.has(type)) set({ functions: true, ...(type === 'OBJECT_SCHEMA' ? { searchPath: true } : {}) });
      if (node === 'RenameStmt' && type !== 'OBJECT_SCHEMA' && FUNCTION_OBJECTS.has(type) && typeof b.newname === 'string') set({ definesFunction: b.newname });
      break;
    }
  }
  if (FUNCTION_DDL.has(node)) {
    set({ functions: true });
    // a new schema may be the `$user` entry of the search path
    if (node === 'CreateSchemaStmt') set({ searchPath: true });
    if (node === 'CreateFunctionStmt') {
      const parts = b.funcname as { String?: { sval?: string } }[] | undefined;
      const name = parts?.[parts.length - 1]?.String?.sval;
      if (name !== undefined) set({ definesFunction: name });
    }
  }
  // A temporary relation puts the session's pg_temp schema in front of the search path.
  if (createsTemp(node, b)) set({ searchPath: true });
  return e;
}

function createsTemp(node: string, b: Obj): boolean {
  const temp = (rv: unknown) => typeof rv === 'object' && rv !== null && (rv as Obj).relpersistence === 't';
  switch (node) {
    case 'CreateStmt': return temp(b.relation);
    case 'ViewStmt': return temp(b.view);
    case 'CreateSeqStmt': return temp(b.sequence);
    case 'CreateTableAsStmt': return temp((b.into as Obj | undefined)?.rel);
    case 'SelectStmt': return temp((b.intoClause as Obj | undefined)?.rel);
    default: return false;
  }
}

/** Functions whose call may change any setting (set_config('search_path', ...)): the search path, how text is read. */
export function callChangesSettings(name: string): boolean {
  return name === 'set_config';
}
