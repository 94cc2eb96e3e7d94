// Signed heads beyond the group commit: beats while idle (or while only async records
// come), shipping to a directory sink and an HTTP sink (and what a down endpoint does
// to appends: nothing), and exports verified offline. On the embedded store; the
// writers are shared with Postgres and tested there in the chain suites.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.ts';
import { exportAudit, HEADS_FILE, openAuditLog, parseHead, readKey, verifyAudit, verifyExport, type SignedHead, type SinkReport } from '../../src/audit/index.ts';
import { appendGroups, type Fresh } from './audit-chain-suite.ts';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'warden-heads-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
async function fresh(): Promise<Fresh> {
  const dataDir = join(root, `d${++n}`);
  const store = await openStore({ store: 'sqlite', dataDir });
  return { store, dataDir, cleanup: () => store.close() };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const heads = (f: Fresh) => f.store.db.selectFrom('signed_heads').selectAll().orderBy('n').execute();
const fileHeads = (file: string): SignedHead[] =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => parseHead(JSON.parse(l))!);

describe('signed heads while idle', () => {
  it('an idle log signs a beat every interval, and a log with only async records does too', async () => {
    const f = await fresh();
    try {
      const log = await openAuditLog(f.store, { dataDir: f.dataDir, headIntervalMs: 50 });
      await log.append({ type: 'command', data: { i: 1 } });
      const beat = await until('a beat', async () => (await heads(f)).find((h) => h.kind === 'beat' && Number(h.seq) === 1));
      assert.ok(Number(beat.n) >= 2);

      // Non-durable batches sign heads too, but those are not shipped: a beat still comes.
      let stop = false;
      const posting = (async () => {
        for (let i = 0; !stop; i++) {
          await log.append({ type: 'result', data: { i } }, { durable: false });
        }
      })();
      const beatNo = Number(beat.n);
      await until('a beat among async batches', async () => (await heads(f)).find((h) => h.kind === 'beat' && Number(h.n) > beatNo + 1 && Number(h.seq) > 1));
      stop = true;
      await posting;
      await log.close();
      const v = await verifyAudit(f.store, f.dataDir);
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.newestHead?.kind, 'close');
    } finally {
      await f.cleanup();
    }
  });
});

describe('shipping signed heads', () => {
  it('a directory sink gets every shipped head, and verify holds the store to it', async () => {
    const f = await fresh();
    const sink = join(root, `sink-${n}`);
    mkdirSync(sink);
    try {
      const reports: SinkReport[] = [];
      const log = await openAuditLog(f.store, { dataDir: f.dataDir, sinks: [{ dir: sink }], shipGapMs: 0, onShip: (r) => reports.push(r) });
      await appendGroups(log, 0, 35);
      await log.close();
      const shipped = fileHeads(join(sink, HEADS_FILE));
      assert.equal(shipped.at(-1)?.n, log.lastHead?.n);
      assert.equal(shipped.at(-1)?.kind, 'close');
      assert.ok(reports.some((r) => r.ok && r.sink === `dir:${sink}`));
      assert.ok(reports.every((r) => r.ok), 'no failed sends');

      // The store and the data dir's copy lose their tail; the sink on another volume still tells.
      await f.store.db.deleteFrom('events').where('seq', '>', 30).execute();
      await f.store.db.deleteFrom('signed_heads').where('seq', '>', 30).execute();
      const last = await f.store.db.selectFrom('events').select('hash').where('seq', '=', 30).executeTakeFirstOrThrow();
      await f.store.db.updateTable('chain_head').set({ seq: 30, hash: last.hash }).where('id', '=', 1).execute();
      writeFileSync(join(f.dataDir, HEADS_FILE), '');
      assert.equal((await verifyAudit(f.store, f.dataDir)).ok, true, 'without the sink, the cut is invisible (for two intervals)');
      const v = await verifyAudit(f.store, f.dataDir, { headFiles: [join(sink, HEADS_FILE)] });
      assert.equal(v.kind, 'truncated');
      assert.match(v.problem ?? '', new RegExp(`${HEADS_FILE} holds signed head #${log.lastHead!.n} \\(event 35`));
      await assert.rejects(openAuditLog(f.store, { dataDir: f.dataDir, sinks: [{ dir: sink }] }), /not the one its signed heads were shipped from/);
    } finally {
      await f.cleanup();
    }
  });

  it('a directory sink whose volume is missing is reported, not created, and does not hold appends', async () => {
    const f = await fresh();
    const missing = join(root, 'not-mounted', 'audit');
    try {
      const failures: SinkReport[] = [];
      const log = await openAuditLog(f.store, { dataDir: f.dataDir, sinks: [{ dir: missing }], shipGapMs: 0, onShip: (r) => !r.ok && failures.push(r) });
      await appendGroups(log, 0, 10);
      await until('a failed send', () => failures[0]);
      await log.close();
      assert.match(failures[0]!.error?.message ?? '', /ENOENT/);
      assert.equal((await verifyAudit(f.store, f.dataDir)).count, 10);
    } finally {
      await f.cleanup();
    }
  });

  describe('an HTTP sink', () => {
    let server: Server;
    let url = '';
    const got: { head: SignedHead; req: IncomingMessage }[] = [];
    before(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          got.push({ head: parseHead(JSON.parse(body))!, req });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/heads`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it('gets heads as JSON POSTs with the configured headers, the close head last', async () => {
      const f = await fresh();
      try {
        const log = await openAuditLog(f.store, { dataDir: f.dataDir, sinks: [{ url, headers: { authorization: 'Bearer sink-token' } }], shipGapMs: 0 });
        await appendGroups(log, 0, 20);
        await log.close();
        const last = got.at(-1)!;
        assert.deepEqual(last.head, log.lastHead);
        assert.equal(last.head.kind, 'close');
        assert.equal(last.req.headers['content-type'], 'application/json');
        assert.equal(last.req.headers.authorization, 'Bearer sink-token');
        assert.equal(last.req.method, 'POST');
      } finally {
        await f.cleanup();
      }
    });

    it('a down endpoint does not hold appends; sends are retried with backoff until it is back', async () => {
      const f = await fresh();
      // A port nothing listens on (yet).
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as AddressInfo).port;
      await new Promise<void>((r) => probe.close(() => r()));
      const failures: SinkReport[] = [];
      const oks: SinkReport[] = [];
      try {
        const log = await openAuditLog(f.store, {
          dataDir: f.dataDir, sinks: [{ url: `http://127.0.0.1:${port}/heads` }], shipGapMs: 0, shipDeadlineMs: 500,
          onShip: (r) => (r.ok ? oks : failures).push(r),
        });
        await appendGroups(log, 0, 50);
        assert.equal((await verifyAudit(f.store, f.dataDir)).count, 50, 'every append committed while the sink was down');
        await until('a failed send', () => failures[0]);
        assert.match(failures[0]!.sink, new RegExp(`^http:http://127\\.0\\.0\\.1:${port}/heads$`));

        // Back up: the retry delivers the newest head, not each one missed.
        const received: SignedHead[] = [];
        const back = createServer((req, res) => {
          let body = '';
          req.on('data', (d) => (body += d));
          req.on('end', () => {
            received.push(parseHead(JSON.parse(body))!);
            res.writeHead(200).end();
          });
        });
        await new Promise<void>((r) => back.listen(port, '127.0.0.1', r));
        try {
          const h = await until('a retried send', () => received[0]);
          assert.equal(h.n, log.lastHead?.n);
          assert.ok(oks.length >= 1);
          await log.close();
        } finally {
          await new Promise<void>((r) => back.close(() => r()));
        }
      } finally {
        await f.cleanup();
      }
    });

    it('an endpoint that never answers does not hold appends or close', async () => {
      const f = await fresh();
      const silent = createServer(() => {}); // takes the request, never answers
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const log = await openAuditLog(f.store, { dataDir: f.dataDir, sinks: [{ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/` }], shipGapMs: 0, shipDeadlineMs: 200 });
        await appendGroups(log, 0, 30);
        await log.close();
        const v = await verifyAudit(f.store, f.dataDir);
        assert.deepEqual([v.ok, v.count], [true, 30]);
      } finally {
        silent.closeAllConnections();
        await new Promise<void>((r) => silent.close(() => r()));
        await f.cleanup();
      }
    });
  });
});

describe('exports', () => {
  it('verify offline against the pinned key: intact, then a cut tail and an edited head', async () => {
    const f = await fresh();
    const file = join(root, `export-${n}.jsonl`);
    try {
      const log = await openAuditLog(f.store, { dataDir: f.dataDir, signEveryMs: 0 }); // a head per group
      await appendGroups(log, 0, 35);
      // Exported while the gateway runs: the newest head is fresh as of the export.
      const counts = await exportAudit(f.store, file);
      await log.close();
      assert.deepEqual(counts, { events: 35, heads: 7, checkpoints: 0 });
      const publicKey = readKey(f.dataDir)!;
      const v = await verifyExport(file, { publicKey: { publicKey: publicKey.publicKey, keyId: publicKey.keyId } });
      assert.deepEqual([v.ok, v.count, v.heads, v.keyPinned], [true, 35, 7, true], v.problem);

      const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      const cut = join(root, `cut-${n}.jsonl`);
      writeFileSync(cut, lines.filter((l) => !(l.startsWith('{"event":') && JSON.parse(l).event.seq > 30)).join('\n') + '\n');
      const c = await verifyExport(cut, { publicKey });
      assert.deepEqual([c.ok, c.kind, c.brokenSeq], [false, 'truncated', 31]);

      const edited = join(root, `edited-${n}.jsonl`);
      writeFileSync(edited, lines.map((l) => (l.startsWith('{"head":') && JSON.parse(l).head.n === 3 ? l.replace('"kind":"batch"', '"kind":"beat"') : l)).join('\n') + '\n');
      const e = await verifyExport(edited, { publicKey });
      assert.deepEqual([e.ok, e.kind], [false, 'head']);
      assert.match(e.problem ?? '', /signed head #4 does not follow head #3/);
    } finally {
      await f.cleanup();
    }
  });
});
