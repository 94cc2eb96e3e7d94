// Run by audit-journal.test.ts as its own process: a writer thread journals `count`
// events (persist), prints how many it was told are on disk, and is killed -9 before any
// of them can be indexed (lazyMs is an hour), as a gateway killed under load is.
import { openStore } from '../../src/store/index.ts';
import { openAuditLog } from '../../src/audit/index.ts';

const [dataDir, count] = [process.argv[2]!, Number(process.argv[3])];
const store = await openStore({ store: 'sqlite', dataDir });
const log = await openAuditLog(store, { dataDir, lazyMs: 3_600_000, headIntervalMs: 3_600_000 });
const done: Promise<void>[] = [];
for (let i = 1; i <= count; i++) {
  done.push(log.persist({ type: 'command', sessionId: `s${i % 3}`, actor: 'alice', data: { text: `insert ${i}` } }));
  if (i % 7 === 0) await Promise.all(done); // several journal records, not one
}
await Promise.all(done);
process.stdout.write(`${count} on disk\n`, () => process.kill(process.pid, 'SIGKILL'));
