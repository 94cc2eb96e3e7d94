// From warden.yaml's `gateway.audit` to the audit log's options, shared by the gateway
// and the CLI (verify, export, seal) so both hold the chain to the same key and sinks.
import type { z } from 'zod';
import type { auditSchema } from '../config/schema.ts';
import { readPublicKey, type PublicKey } from './keys.ts';
import type { AuditLogOptions } from './open.ts';

export type AuditConfig = z.infer<typeof auditSchema>;

/** The pinned key of gateway.audit.publicKey (or a --public-key override), with errors that say which one failed. */
export function pinnedKey(cfg: AuditConfig, override?: string): PublicKey | undefined {
  const [where, value] = override !== undefined ? ['--public-key', override] : ['gateway.audit.publicKey', cfg.publicKey];
  if (value === undefined) return undefined;
  try {
    return readPublicKey(value);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
}

export function auditLogOptions(dataDir: string, cfg: AuditConfig): AuditLogOptions {
  const publicKey = pinnedKey(cfg);
  return { dataDir, headIntervalMs: cfg.headInterval, sinks: cfg.sinks, ...(publicKey ? { publicKey } : {}) };
}
