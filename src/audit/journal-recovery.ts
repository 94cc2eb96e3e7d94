// Indexing what a stopped gateway left in the audit journal, for whoever opens the store
// next (store/open.ts): the completeness of the record after a crash does not wait for
// the gateway's restart. A gateway's own writer does the same when it opens.
import { readKey } from './keys.ts';
import { SqliteChain } from './sqlite-chain.ts';
import { DEFAULT_SIGN_EVERY_MS } from './verify.ts';

/** Index the journal's whole records past the store's position, under a head; returns how many events. */
export function recoverJournal(file: string, dataDir: string): number {
  const key = readKey(dataDir);
  if (!key) return 0; // nothing was ever signed here: no gateway journaled
  // the default window: the tail rules it applies are those of a gateway with defaults
  const chain = new SqliteChain({ file, privatePem: key.privatePem, signEveryMs: DEFAULT_SIGN_EVERY_MS });
  try {
    return chain.recover();
  } finally {
    chain.close();
  }
}
