// `warden audit export <file>`: the chain as JSON lines (source.ts has the format), read
// in one read transaction so the events, the heads and the chain head are one moment's
// state even while a gateway appends. `warden audit verify --export` checks the file
// offline, against a pinned public key.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Store } from '../store/open.ts';
import { EXPORT_FORMAT, exportLine, storeSource } from './source.ts';

export async function exportAudit(store: Store, file: string): Promise<{ events: number; heads: number; checkpoints: number }> {
  const out = createWriteStream(file, { mode: 0o600 });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => {});
  const write = async (s: string) => {
    if (!out.write(s)) await Promise.race([once(out, 'drain'), failed]);
  };
  const counts = { events: 0, heads: 0, checkpoints: 0 };
  try {
    await store.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      const source = storeSource(trx);
      await write(exportLine.header({ format: EXPORT_FORMAT, version: 1, exportedAt: new Date().toISOString(), chainHead: await source.chainHead() }));
      for (const c of await source.legacyCheckpoints()) {
        await write(exportLine.checkpoint(c));
        counts.checkpoints++;
      }
      for await (const page of source.heads(0)) {
        await write(page.map(exportLine.head).join(''));
        counts.heads += page.length;
      }
      for await (const page of source.events(0)) {
        await write(page.map(exportLine.event).join(''));
        counts.events += page.length;
      }
    });
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } catch (e) {
    out.destroy();
    throw e;
  }
  return counts;
}
