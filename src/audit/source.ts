// Where verify reads a chain from: the store (SQLite or Postgres, through Kysely) or an
// export file (`warden audit export`), offline, with no store and no data dir. Both give
// events and heads in order, a page at a time, so verify's memory does not grow with the
// chain and its inner loop does not await per event.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Kysely, Selectable } from 'kysely';
import type { Database, EventsTable } from '../store/schema.ts';
import { type ChainHead, headFromRow } from './chain.ts';
import type { Checkpoint } from './checkpoint-file.ts';
import { parseHead, type SignedHead } from './head.ts';

export type EventRecord = Selectable<EventsTable>;

export interface ChainSource {
  /** "the store", "export <file>": names the source in messages */
  readonly name: string;
  /** the chain head the writers recorded; null when the source has none */
  chainHead(): Promise<ChainHead | null>;
  /** events with seq > after, in seq order, a page at a time */
  events(after: number): AsyncIterable<EventRecord[]>;
  /** signed heads with n > after, in n order, a page at a time */
  heads(after: number): AsyncIterable<SignedHead[]>;
  head(n: number): Promise<SignedHead | null>;
  lastSeq(): Promise<number>;
  /** checkpoints of a chain written before signed heads (one per N events) */
  legacyCheckpoints(): Promise<Checkpoint[]>;
}

export function storeSource(db: Kysely<Database>, pageSize = 2000): ChainSource {
  return {
    name: 'the store',
    async chainHead() {
      const h = await db.selectFrom('chain_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
      return h ? { seq: Number(h.seq), hash: h.hash } : null;
    },
    async *events(after) {
      for (;;) {
        const rows = await db.selectFrom('events').selectAll().where('seq', '>', after).orderBy('seq').limit(pageSize).execute();
        if (rows.length > 0) yield rows;
        if (rows.length < pageSize) return;
        after = Number(rows[rows.length - 1].seq);
      }
    },
    async *heads(after) {
      for (;;) {
        const rows = await db.selectFrom('signed_heads').selectAll().where('n', '>', after).orderBy('n').limit(pageSize).execute();
        if (rows.length > 0) yield rows.map(headFromRow);
        if (rows.length < pageSize) return;
        after = Number(rows[rows.length - 1].n);
      }
    },
    async head(n) {
      const r = await db.selectFrom('signed_heads').selectAll().where('n', '=', n).executeTakeFirst();
      return r ? headFromRow(r) : null;
    },
    async lastSeq() {
      const r = await db.selectFrom('events').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
      return Number(r?.seq ?? 0);
    },
    async legacyCheckpoints() {
      const rows = await db.selectFrom('checkpoints').selectAll().orderBy('seq').execute();
      return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, ts: r.ts, signature: r.signature, keyId: r.key_id }));
    },
  };
}

// -- export files ---------------------------------------------------------------------
// JSON lines: a header, then the legacy checkpoints, the heads in n order and the events
// in seq order, each line an object with one key saying what it is. Readers pick their
// lines by that key's prefix, so an event line is parsed only by the events reader.

export const EXPORT_FORMAT = 'warden-audit-export';

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: 1;
  exportedAt: string;
  chainHead: ChainHead | null;
}

export const exportLine = {
  header: (h: ExportHeader) => JSON.stringify(h) + '\n',
  checkpoint: (c: Checkpoint) => `{"checkpoint":${JSON.stringify({ seq: c.seq, hash: c.hash, ts: c.ts, signature: c.signature, keyId: c.keyId })}}\n`,
  head: (h: SignedHead) => `{"head":${JSON.stringify(h)}}\n`,
  // data is the stored canonical JSON text, embedded as is
  event: (r: EventRecord) =>
    `{"event":{"seq":${Number(r.seq)},"ts":${JSON.stringify(r.ts)},"type":${JSON.stringify(r.type)},"sessionId":${JSON.stringify(r.session_id)},` +
    `"actor":${JSON.stringify(r.actor)},"data":${r.data},"prevHash":${JSON.stringify(r.prev_hash)},"hash":${JSON.stringify(r.hash)}}}\n`,
};

async function* linesOf(file: string, prefix: string): AsyncGenerator<{ line: string; n: number }> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    n++;
    if (line.startsWith(prefix)) yield { line, n };
  }
}

function bad(file: string, n: number, what: string): Error {
  return new Error(`${file}:${n}: not a well-formed ${what} line of a Warden audit export`);
}

export async function readExportHeader(file: string): Promise<ExportHeader> {
  for await (const { line } of linesOf(file, '')) {
    let h: Partial<ExportHeader>;
    try {
      h = JSON.parse(line) as Partial<ExportHeader>;
    } catch {
      h = {};
    }
    if (h.format !== EXPORT_FORMAT || h.version !== 1) break;
    return h as ExportHeader;
  }
  throw new Error(`${file} is not a Warden audit export (its first line is not a ${EXPORT_FORMAT} header)`);
}

const PAGE = 2000;

async function* paged<T>(items: AsyncIterable<T>): AsyncGenerator<T[]> {
  let page: T[] = [];
  for await (const x of items) {
    page.push(x);
    if (page.length === PAGE) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

export async function exportSource(file: string): Promise<ChainSource> {
  const header = await readExportHeader(file);
  async function* headsOf(after: number) {
    for await (const { line, n } of linesOf(file, '{"head":')) {
      let h: SignedHead | null = null;
      try {
        h = parseHead((JSON.parse(line) as { head: unknown }).head);
      } catch {
        // reported below
      }
      if (!h) throw bad(file, n, 'head');
      if (h.n > after) yield h;
    }
  }
  async function* eventsOf(after: number) {
    for await (const { line, n } of linesOf(file, '{"event":')) {
      let e: Record<string, unknown>;
      try {
        e = (JSON.parse(line) as { event: Record<string, unknown> }).event;
      } catch {
        throw bad(file, n, 'event');
      }
      const seq = e.seq;
      if (!Number.isSafeInteger(seq) || typeof e.hash !== 'string' || typeof e.prevHash !== 'string' || typeof e.ts !== 'string' || typeof e.type !== 'string') {
        throw bad(file, n, 'event');
      }
      if ((seq as number) <= after) continue;
      const text = (v: unknown) => (typeof v === 'string' ? v : null);
      yield {
        seq: seq as number, ts: e.ts, type: e.type, session_id: text(e.sessionId), actor: text(e.actor),
        data: JSON.stringify(e.data ?? null), prev_hash: e.prevHash, hash: e.hash,
      } satisfies EventRecord;
    }
  }
  return {
    name: `the export ${file}`,
    chainHead: async () => header.chainHead,
    events: (after) => paged(eventsOf(after)),
    heads: (after) => paged(headsOf(after)),
    async head(n) {
      for await (const h of headsOf(n - 1)) return h.n === n ? h : null;
      return null;
    },
    async lastSeq() {
      let last = 0;
      for await (const e of eventsOf(0)) last = Math.max(last, e.seq);
      return last;
    },
    async legacyCheckpoints() {
      const out: Checkpoint[] = [];
      for await (const { line, n } of linesOf(file, '{"checkpoint":')) {
        try {
          const c = (JSON.parse(line) as { checkpoint: Checkpoint }).checkpoint;
          if (!Number.isSafeInteger(c.seq) || typeof c.hash !== 'string' || typeof c.signature !== 'string') throw new Error();
          out.push(c);
        } catch {
          throw bad(file, n, 'checkpoint');
        }
      }
      return out;
    },
  };
}
