// What `warden audit ...` does (audit.ts declares the commands and loads this file
// when one of them runs): verify, export, print the public key, seal.
import { loadConfig } from '../config/load.ts';
import { openStore, type Store } from '../store/index.ts';
import type { WardenConfig } from '../config/schema.ts';
import { exportAudit, openAuditLog, publicPem, readKey, verifyAudit, verifyExport, verifyOptionsFor, type VerifyResult } from '../audit/index.ts';
import { auditLogOptions, pinnedKey } from '../audit/config.ts';
import { withBackend } from './admin.ts';
import type { BackendOptions } from './backend.ts';

async function withStore<T>(config: WardenConfig, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ store: config.gateway.store, dataDir: config.gateway.dataDir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function describeResult(r: VerifyResult): string {
  if (!r.ok) return `audit log BROKEN: ${r.problem}`;
  const newest = r.newestHead ? ` (newest #${r.newestHead.n}, ${r.newestHead.kind}, signed ${r.newestHead.ts})` : '';
  const older = r.checkpoints ? `, ${r.checkpoints} older checkpoints` : '';
  const key = r.keyId ? `; key ${r.keyId} (${r.keyPinned ? 'pinned' : "the data dir's, not pinned"})` : '';
  const tail = r.unsignedTail ? `; ${r.unsignedTail} event${r.unsignedTail === 1 ? '' : 's'} after the last signed head (hash-chained, signed within gateway.audit.signEvery)` : '';
  return `audit log intact: ${r.count} events (last seq ${r.lastSeq}), ${r.heads} signed heads${newest}${older}${tail}${key}`;
}

export interface VerifyFlags extends BackendOptions {
  json?: boolean;
  publicKey?: string;
  export?: string;
  heads: string[];
}

export async function verify(opts: VerifyFlags): Promise<VerifyResult> {
  if (opts.export) {
    const { config } = loadConfig(opts.config);
    const publicKey = pinnedKey(config.gateway.audit, opts.publicKey);
    if (!publicKey) throw new Error('--export: an export carries no key to trust: give one with --public-key <file|PEM> (or gateway.audit.publicKey)');
    return verifyExport(opts.export, { publicKey, headFiles: opts.heads, signEveryMs: config.gateway.audit.signEvery });
  }
  if (opts.gateway ?? process.env.WARDEN_GATEWAY) {
    if (opts.publicKey !== undefined || opts.heads.length > 0) {
      throw new Error('--public-key and --heads check a chain here: use them with --config (the store) or --export, not with a gateway');
    }
    return withBackend(opts, (b) => b.verifyAudit());
  }
  const { config } = loadConfig(opts.config);
  const base = verifyOptionsFor(auditLogOptions(config.gateway.dataDir, config.gateway.audit));
  const publicKey = pinnedKey(config.gateway.audit, opts.publicKey);
  return withStore(config, (store) =>
    verifyAudit(store, config.gateway.dataDir, { ...base, ...(publicKey ? { publicKey } : {}), headFiles: [...(base.headFiles ?? []), ...opts.heads] }),
  );
}

export async function exportTo(file: string, opts: { config?: string }): Promise<void> {
  const { config } = loadConfig(opts.config);
  const n = await withStore(config, (store) => exportAudit(store, file));
  console.error(`exported ${n.events} events, ${n.heads} signed heads${n.checkpoints ? `, ${n.checkpoints} older checkpoints` : ''} to ${file}`);
}

export function printPublicKey(opts: { config?: string }): void {
  const { config } = loadConfig(opts.config);
  const key = readKey(config.gateway.dataDir);
  if (!key) throw new Error(`no audit key in ${config.gateway.dataDir} yet (the gateway makes one when it first starts)`);
  process.stdout.write(publicPem(key));
  console.error(`key ${key.keyId}`);
}

export async function seal(opts: { config?: string }): Promise<void> {
  const { config } = loadConfig(opts.config);
  const logOpts = auditLogOptions(config.gateway.dataDir, config.gateway.audit);
  await withStore(config, async (store) => {
    const heads = await store.db.selectFrom('signed_heads').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    if (Number(heads.n) > 0) throw new Error('nothing to seal: the chain already has signed heads (seal adopts only a chain written before them)');
    const v = await verifyAudit(store, config.gateway.dataDir, { ...verifyOptionsFor(logOpts), staleAfterMs: 0 });
    console.error(v.ok ? describeResult(v) : `sealing as it is, although: ${v.problem}`);
    const log = await openAuditLog(store, { ...logOpts, adopt: 'as-is' });
    await log.close();
    console.log(`sealed: signed head #1 covers events 1..${v.ok ? v.lastSeq : 'as stored'}`);
  });
}
