// The audit log's public surface.
export type { AuditEvent, AuditEventInput, AuditLog, EventType, VerifyResult } from './types.ts';
export { openAuditLog, type AuditLogOptions } from './log.ts';
export { verifyAudit, type VerifyOptions } from './verify.ts';
export { canonicalJson, eventCanonical, eventHash, GENESIS_HASH } from './canonical.ts';
export { KEY_FILE } from './keys.ts';
export { CHECKPOINT_FILE } from './checkpoint-file.ts';
