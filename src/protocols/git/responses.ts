// What the gateway reads of the remote's answers as they pass (for the record), and the
// answers it writes itself when a command is refused, in a form git shows its user.
//  - receive-pack's report-status: `unpack ok|<error>`, then `ok <ref>` or `ng <ref> <why>` per
//    ref; inside band 1 when the client asked for side-band-64k;
//  - a ref advertisement (info/refs in protocol v0, the answer to v2's ls-refs): `<id> <ref>`.
import { FLUSH, MAX_PKT, pktLine, PktReader, type PktError } from './pkt-line.ts';
import type { RefUpdate } from './push-request.ts';

export interface RefStatus {
  ref: string;
  ok: boolean;
  message?: string;
}

export class ReportStatusReader {
  unpack: string | null = null;
  readonly refs: RefStatus[] = [];
  /** messages on band 2 and 3 (capped) */
  messages = '';
  broken: string | null = null;
  private readonly outer = new PktReader();
  private readonly inner = new PktReader();

  constructor(private readonly sideband: boolean) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    try {
      if (!this.sideband) return this.lines(this.outer, chunk);
      this.outer.push(chunk);
      for (let p = this.outer.next(); p; p = this.outer.next()) {
        if (p.kind !== 'data') continue;
        const band = p.payload[0];
        if (band === 1) this.lines(this.inner, p.payload.subarray(1));
        else if (this.messages.length < 4096) this.messages += p.payload.subarray(1).toString('utf8');
      }
    } catch (e) {
      this.broken = (e as PktError).message;
    }
  }

  private lines(reader: PktReader, chunk: Buffer): void {
    reader.push(chunk);
    for (let p = reader.next(); p; p = reader.next()) {
      if (p.kind !== 'data') continue;
      const line = p.payload.toString('utf8').replace(/\n$/, '');
      if (line.startsWith('unpack ')) this.unpack = line.slice(7);
      else if (line.startsWith('ok ')) this.refs.push({ ref: line.slice(3), ok: true });
      else if (line.startsWith('ng ')) {
        const [ref, ...why] = line.slice(3).split(' ');
        this.refs.push({ ref: ref!, ok: false, message: why.join(' ') });
      }
    }
  }
}

/** refs kept in the record of an advertisement */
const KEPT_REFS = 100;

export class AdvertisementReader {
  count = 0;
  readonly refs: [string, string][] = [];
  private readonly reader = new PktReader();
  private broken = false;

  push(chunk: Buffer): void {
    if (this.broken) return;
    try {
      this.reader.push(chunk);
      for (let p = this.reader.next(); p; p = this.reader.next()) {
        if (p.kind !== 'data') continue;
        const m = /^([0-9a-f]{40}) ([^\0\n ]+)/.exec(p.payload.toString('utf8'));
        if (!m || m[2] === 'capabilities^{}') continue;
        this.count++;
        if (this.refs.length < KEPT_REFS) this.refs.push([m[2]!, m[1]!]);
      }
    } catch {
      this.broken = true;
    }
  }

  /** the record of the refs read: name and id of the first KEPT_REFS, and how many in all */
  summary(): { rowCount: number; columns: { name: string }[]; rows: string[][]; truncated: boolean } {
    return { rowCount: this.count, columns: [{ name: 'ref' }, { name: 'id' }], rows: this.refs, truncated: this.count > this.refs.length };
  }
}

/**
 * receive-pack's answer refusing every update of a push, with `message` on the progress band
 * (git prints it as `remote: ...`) when the client reads one, and as each ref's reason.
 */
export function refusePush(updates: RefUpdate[], capabilities: string[], message: string): Buffer {
  const reason = message.replace(/[\r\n]+/g, ' ');
  const report = Buffer.concat([pktLine('unpack ok\n'), ...updates.map((u) => pktLine(`ng ${u.ref} ${reason}\n`)), FLUSH]);
  if (!capabilities.includes('side-band-64k') && !capabilities.includes('side-band')) return report;
  // a band packet holds at most MAX_PKT - 5 bytes of data: a long report goes in several
  const band = (n: number, data: Buffer) => {
    const out: Buffer[] = [];
    for (let i = 0; i < data.length; i += MAX_PKT - 5) out.push(pktLine(Buffer.concat([Buffer.from([n]), data.subarray(i, i + MAX_PKT - 5)])));
    return Buffer.concat(out);
  };
  return Buffer.concat([band(2, Buffer.from(`${reason}\n`)), band(1, report), FLUSH]);
}

/** an upload-pack answer git reports as `fatal: remote error: <message>` */
export function refuseFetch(message: string): Buffer {
  return pktLine(`ERR ${message.replace(/[\r\n]+/g, ' ')}\n`);
}
