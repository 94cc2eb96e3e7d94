// Opening the audit log: the key (and the pinned public key it must match), the writer
// for the store, and the checks that come before the first head is signed, since a
// writer signs over whatever chain it finds:
// - every copy of the heads outside the store (the data dir's file, directory sinks)
//   must be in the store: a store rewound behind them is refused, not signed over;
// - a chain from before signed heads (checkpoints every N events) is verified and then
//   adopted with a first head; one that does not verify is refused (`warden audit
//   seal` adopts it as it is, on purpose).
// Then a beat is signed, so a restarted gateway's chain is fresh at once.
import { join } from 'node:path';
import type { Store } from '../store/open.ts';
import { GroupCommitLog } from './log.ts';
import { HEADS_FILE, newestHeadInFile } from './heads-file.ts';
import { loadOrCreateKey, type PublicKey } from './keys.ts';
import { PgChainWriter } from './pg-writer.ts';
import { DirSink, HeadShipper, makeSink, type SinkConfig, type SinkReport } from './ship.ts';
import { storeSource } from './source.ts';
import { SqliteChainWriter } from './sqlite-writer.ts';
import { InlineSqliteChainWriter } from './sqlite-inline-writer.ts';
import type { AuditLog } from './types.ts';
import { checkCopy, DEFAULT_SIGN_EVERY_MS, type HeadCopy, signatureCheck, verifyAudit, type VerifyOptions } from './verify.ts';
import type { ChainWriter } from './writer.ts';

export interface AuditLogOptions {
  dataDir: string;
  /** sign a head when none was signed durably for this long, idle or not (ms; default 60000) */
  headIntervalMs?: number;
  /** SQLite: sign a batch only this long after the last head, the tail by a timer (ms; default 250; 0: every batch) */
  signEveryMs?: number;
  /** the pinned public key (gateway.audit.publicKey): the data dir's key must be its private half */
  publicKey?: PublicKey;
  /** where heads go besides the store and the data dir's copy */
  sinks?: SinkConfig[];
  /** every send to a sink, for metrics and logs */
  onShip?: (r: SinkReport) => void;
  /** a beat or a start-up check that failed without failing an append (logs) */
  onError?: (e: Error) => void;
  /** least time between two heads shipped to one sink (ms; default 1000) */
  shipGapMs?: number;
  /** how long close() waits for the sinks to take the close head (ms; default 3000) */
  shipDeadlineMs?: number;
  /** most events in one transaction (default 2000) */
  maxBatch?: number;
  /** how long a non-durable event may wait for a batch to start (default 20 ms) */
  lazyMs?: number;
  /** 'as-is': adopt a chain from before signed heads even when it does not verify (`warden audit seal`) */
  adopt?: 'verified' | 'as-is';
  /** SQLite: write on a thread of its own (a gateway), or on the caller's (a short-lived CLI command). Default 'worker'. */
  writerThread?: 'worker' | 'caller';
  /** SQLite: bytes of journal indexed before a new generation starts (default 64 MB; journal.ts) */
  journalRotateBytes?: number;
}

export const DEFAULT_HEAD_INTERVAL_MS = 60_000;

/** What verify should hold this log's chain to: the pinned key, the sinks' files, and a staleness of two intervals. */
export function verifyOptionsFor(opts: Pick<AuditLogOptions, 'publicKey' | 'sinks' | 'headIntervalMs' | 'signEveryMs'>): VerifyOptions {
  return {
    ...(opts.publicKey ? { publicKey: opts.publicKey } : {}),
    headFiles: (opts.sinks ?? []).flatMap((s) => ('dir' in s ? [join(s.dir, HEADS_FILE)] : [])),
    staleAfterMs: 2 * (opts.headIntervalMs ?? DEFAULT_HEAD_INTERVAL_MS),
    signEveryMs: opts.signEveryMs ?? DEFAULT_SIGN_EVERY_MS,
  };
}

export async function openAuditLog(store: Store, opts: AuditLogOptions): Promise<AuditLog> {
  const headIntervalMs = opts.headIntervalMs ?? DEFAULT_HEAD_INTERVAL_MS;
  if (!Number.isFinite(headIntervalMs) || headIntervalMs < 10) throw new Error(`headIntervalMs must be at least 10 ms, got ${headIntervalMs}`);
  const signEveryMs = opts.signEveryMs ?? DEFAULT_SIGN_EVERY_MS;
  if (!Number.isFinite(signEveryMs) || signEveryMs < 0) throw new Error(`signEveryMs must be 0 or more, got ${signEveryMs}`);
  const key = loadOrCreateKey(opts.dataDir);
  if (opts.publicKey && opts.publicKey.keyId !== key.keyId) {
    throw new Error(
      `gateway.audit.publicKey: the audit key in ${opts.dataDir} (key ${key.keyId}) is not the pinned public key (key ${opts.publicKey.keyId}): ` +
        "a gateway signs only with the key its heads are verified against (was the data dir's key replaced?)",
    );
  }
  const onError = opts.onError ?? (() => {});
  let writer: ChainWriter;
  if (store.kind === 'sqlite') {
    if (!store.file) throw new Error('a SQLite store without a file cannot host the audit writer');
    if (opts.writerThread === 'caller') {
      writer = new InlineSqliteChainWriter(store.file, { privatePem: key.privatePem, signEveryMs });
    } else {
      const w = new SqliteChainWriter(store.file, { privatePem: key.privatePem, signEveryMs, journalRotateBytes: opts.journalRotateBytes });
      try {
        await w.ready();
      } catch (e) {
        await w.close().catch(() => {});
        throw e;
      }
      writer = w;
    }
  } else {
    if (!store.pgPool) throw new Error('a Postgres store without its pool cannot host the audit writer');
    writer = new PgChainWriter(store.pgPool, { privatePem: key.privatePem });
  }
  const verify = verifyOptionsFor(opts);
  try {
    await beforeSigning(store, opts, verify, writer, onError);
    const opened = await writer.sign('beat');
    const dataDirCopy = new DirSink(opts.dataDir, 'data dir');
    const shipper = new HeadShipper([dataDirCopy, ...(opts.sinks ?? []).map(makeSink)], { minGapMs: opts.shipGapMs ?? 1000, onReport: opts.onShip });
    // Postgres signs every batch (pg-writer.ts): no tail to sign there.
    const everyMs = store.kind === 'sqlite' ? signEveryMs : 0;
    return new GroupCommitLog(store, writer, shipper, { ...opts, headIntervalMs, signEveryMs: everyMs, verify, onError }, opened);
  } catch (e) {
    await writer.close().catch(() => {});
    throw e;
  }
}

async function beforeSigning(store: Store, opts: AuditLogOptions, verify: VerifyOptions, writer: ChainWriter, onError: (e: Error) => void): Promise<void> {
  // The copies first: a head in a copy was committed before it was shipped, so the
  // store read after them holds it even while another gateway appends and ships.
  const copies: HeadCopy[] = [];
  for (const file of [join(opts.dataDir, HEADS_FILE), ...(verify.headFiles ?? [])]) {
    try {
      const head = await newestHeadInFile(file);
      if (head) copies.push({ where: file, head });
    } catch (e) {
      onError(new Error(`cannot read the signed heads in ${file}: ${(e as Error).message}`));
    }
  }
  const source = storeSource(store.db);
  const chain = (await source.chainHead()) ?? { seq: 0, hash: '' };
  const newest = await store.db.selectFrom('signed_heads').select((eb) => eb.fn.max('n').as('n')).executeTakeFirst();
  const top = newest?.n == null ? null : await source.head(Number(newest.n));

  if (!top && chain.seq > 0 && copies.length === 0) {
    const v = await verifyAudit(store, opts.dataDir, { ...verify, staleAfterMs: 0 });
    if (!v.ok && opts.adopt !== 'as-is') {
      throw new Error(
        `the audit chain (${chain.seq} events) has no signed heads, so it was written before them, and it does not verify: ${v.problem}. ` +
          'No head is signed over it. Inspect it with `warden audit verify`; `warden audit seal` adopts it as it is.',
      );
    }
    await writer.sign('adopt');
    return;
  }

  const check = signatureCheck(verify.publicKey ?? loadOrCreateKey(opts.dataDir), verify.publicKey !== undefined);
  for (const c of copies) {
    const p = await checkCopy(source, c, top, chain.seq, check);
    if (p) {
      throw new Error(
        `the audit chain in the store is not the one its signed heads were shipped from: ${p.problem}. ` +
          `No head is signed over it. Inspect it with \`warden audit verify\`; if the store was restored from a backup on purpose, move ${c.where} aside.`,
      );
    }
  }
}
