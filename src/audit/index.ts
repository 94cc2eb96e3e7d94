// The audit log's public surface.
export type { AuditEvent, AuditEventInput, AuditLog, EventType, VerifyResult } from './types.ts';
export { openAuditLog, verifyOptionsFor, DEFAULT_HEAD_INTERVAL_MS, type AuditLogOptions } from './open.ts';
export { verifyAudit, verifyExport, DEFAULT_STALE_AFTER_MS, type VerifyOptions, type HeadCopy } from './verify.ts';
export { exportAudit } from './export.ts';
export { canonicalJson, eventCanonical, eventHash, GENESIS_HASH } from './canonical.ts';
export { KEY_FILE, readKey, readPublicKey, publicPem, type PublicKey } from './keys.ts';
export { CHECKPOINT_FILE } from './checkpoint-file.ts';
export { HEADS_FILE } from './heads-file.ts';
export { headBody, headHash, headNote, parseHead, type SignedHead } from './head.ts';
export type { SinkConfig, SinkReport } from './ship.ts';
