// Postgres parse-node type -> statement kind and category. Kinds that depend on a field
// (GRANT vs REVOKE, SET ROLE vs SET, COPY direction) are refined in pg-walk.ts; this table
// is the part that depends on the node type alone.
import type { Category, StatementKind } from './types.ts';

type Entry = readonly [StatementKind, Category];

const EXACT: Record<string, Entry> = {
  SelectStmt: ['select', 'read'],
  InsertStmt: ['insert', 'write'],
  UpdateStmt: ['update', 'write'],
  DeleteStmt: ['delete', 'write'],
  MergeStmt: ['merge', 'write'],
  TruncateStmt: ['truncate', 'write'],
  CopyStmt: ['copy', 'read'],
  CallStmt: ['call', 'write'],
  LockStmt: ['lock', 'write'],
  RefreshMatViewStmt: ['refresh', 'write'],
  NotifyStmt: ['notify', 'write'],
  ListenStmt: ['listen', 'read'],
  UnlistenStmt: ['listen', 'read'],
  VariableShowStmt: ['show', 'read'],
  VariableSetStmt: ['set', 'session'],
  DiscardStmt: ['set', 'session'],
  DoStmt: ['do', 'unknown'],
  TransactionStmt: ['transaction', 'transaction'],
  ConstraintsSetStmt: ['transaction', 'transaction'],
  PrepareStmt: ['prepare', 'session'],
  ExecuteStmt: ['execute', 'session'],
  DeallocateStmt: ['deallocate', 'session'],
  ExplainStmt: ['explain', 'read'],
  DeclareCursorStmt: ['declare', 'read'],
  FetchStmt: ['fetch', 'read'],
  ClosePortalStmt: ['fetch', 'read'],
  VacuumStmt: ['vacuum', 'admin'],
  CheckPointStmt: ['checkpoint', 'admin'],
  LoadStmt: ['load', 'admin'],
  ReindexStmt: ['other', 'admin'],
  ClusterStmt: ['other', 'admin'],
  GrantStmt: ['grant', 'admin'],
  GrantRoleStmt: ['grant', 'admin'],
  AlterDefaultPrivilegesStmt: ['grant', 'admin'],
  AlterSystemStmt: ['alter', 'admin'],
  CreateRoleStmt: ['create', 'admin'],
  AlterRoleStmt: ['alter', 'admin'],
  AlterRoleSetStmt: ['alter', 'admin'],
  DropRoleStmt: ['drop', 'admin'],
  CreatedbStmt: ['create', 'admin'],
  AlterDatabaseStmt: ['alter', 'admin'],
  AlterDatabaseSetStmt: ['alter', 'admin'],
  AlterDatabaseRefreshCollStmt: ['alter', 'admin'],
  DropdbStmt: ['drop', 'admin'],
  CreateTableSpaceStmt: ['create', 'admin'],
  AlterTableSpaceOptionsStmt: ['alter', 'admin'],
  DropTableSpaceStmt: ['drop', 'admin'],
  ReassignOwnedStmt: ['alter', 'admin'],
  DropOwnedStmt: ['drop', 'admin'],
  // DDL whose node name does not start with Create/Alter/Drop
  DefineStmt: ['create', 'ddl'],
  CompositeTypeStmt: ['create', 'ddl'],
  ViewStmt: ['create', 'ddl'],
  IndexStmt: ['create', 'ddl'],
  RuleStmt: ['create', 'ddl'],
  ImportForeignSchemaStmt: ['create', 'ddl'],
  RenameStmt: ['alter', 'ddl'],
  CommentStmt: ['alter', 'ddl'],
  SecLabelStmt: ['alter', 'ddl'],
};

/** Kind and category of a statement node, or undefined when Warden does not know the node. */
export function kindOf(node: string): Entry | undefined {
  const exact = EXACT[node];
  if (exact) return exact;
  if (!node.endsWith('Stmt')) return undefined;
  // CreateStmt, CreateTableAsStmt, CreateFunctionStmt, AlterTableStmt, DropStmt, ...
  if (node.startsWith('Create')) return ['create', 'ddl'];
  if (node.startsWith('Alter')) return ['alter', 'ddl'];
  if (node.startsWith('Drop')) return ['drop', 'ddl'];
  return undefined;
}

/** Statements that change rows: wherever one is nested, it becomes a statement of its own. */
export const DATA_MODIFYING = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
