// The store's public surface.
export { openStore, redact, type Store, type OpenStoreOptions } from './open.ts';
export { SQLITE_BUSY_TIMEOUT_MS } from './sqlite-pragmas.ts';
export type { Database, StoredEvent } from './schema.ts';
export { createApiKey, findApiKey, listApiKeys, revokeApiKey, touchApiKey, type ApiKeyRecord } from './api-keys.ts';
export { listSessions, getSession, type SessionRecord, type ListSessionsOptions } from './sessions.ts';
export { searchCommands, type CommandSearch, type CommandSearchPage, type CommandHit, type SessionHits } from './command-search.ts';
