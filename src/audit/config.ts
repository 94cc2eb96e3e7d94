// warden.yaml's `gateway.audit` section, and from it the audit log's options, shared by
// the gateway and the CLI (verify, export, seal) so both hold the chain to the same key
// and sinks.
import { z } from 'zod';
import { parseDuration } from '../config/duration.ts';
import { readPublicKey, type PublicKey } from './keys.ts';
import type { AuditLogOptions } from './open.ts';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s, ctx) => {
      try {
        return parseDuration(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

/** Where signed heads are shipped, besides the store and the data dir. */
const sinkSchema = z.union(
  [
    /** a directory, best on another volume: heads are appended to <dir>/audit-heads.jsonl */
    z.strictObject({ dir: z.string().min(1) }),
    /** an endpoint that takes each head as a JSON POST (retried with backoff) */
    z.strictObject({ url: z.url({ protocol: /^https?$/ }), headers: z.record(z.string(), z.string()).default({}) }),
  ],
  { error: 'expected { dir: <directory> } or { url: <http(s) URL>, headers: {...} }' },
);

export const auditConfigSchema = z
  .strictObject({
    /** a signed head at least this often even when idle, so a cut tail shows as a stale head; verify calls a head older than twice this stale */
    headInterval: duration('60s').refine((ms) => ms >= 1000, 'at least 1s'),
    /**
     * at most one signed head per this interval under traffic (SQLite store): the events
     * in between are hash-chained but signed up to signEvery later. "0": every commit.
     */
    signEvery: z
      .union([z.literal(0), z.literal('0'), z.string()])
      .default('250ms')
      .transform((v, ctx) => {
        if (v === 0 || v === '0') return 0;
        try {
          return parseDuration(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
          return z.NEVER;
        }
      })
      .refine((ms) => ms <= 10_000, 'at most 10s (events are signed up to this late; 0 signs every commit)'),
    /** the audit public key (PEM, or a file holding it): verify trusts only it, and the gateway refuses to start with another key */
    publicKey: z.string().min(1).optional(),
    sinks: z.array(sinkSchema).default([]),
  })
  .prefault({});

export type AuditConfig = z.infer<typeof auditConfigSchema>;

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
  return { dataDir, headIntervalMs: cfg.headInterval, signEveryMs: cfg.signEvery, sinks: cfg.sinks, ...(publicKey ? { publicKey } : {}) };
}
