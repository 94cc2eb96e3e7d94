// The messages of one WebSocket passed through the gateway: client <-> target, each leg its
// own `ws` socket, so text can be read. Text the target sends is masked before the client
// gets it; what the client sends goes as it is (as a request body does). Every message is
// recorded (direction, time, kind, size; text masked, up to the record's byte cap), binary
// passes untouched. Close codes and reasons cross over, either side going away ends the
// other, and a side that reads faster than the other writes is paused until it drains.
import WebSocket, { type RawData } from 'ws';
import type { Masker } from '../../masking/index.ts';
import type { ResultColumn, ResultSummary } from '../../session/types.ts';

/** One leg stops reading while this many bytes wait to go out on the other, resumes below LOW. */
const HIGH_BYTES = 1 << 20;
const LOW_BYTES = 256 << 10;
/** Messages are recorded in batches of this many rows (a long-lived socket is not held until its end). */
const BATCH = 100;
/** An idle socket's credential is looked at this often (a busy one's at each message). */
const CHECK_MS = 30_000;

export const MESSAGE_COLUMNS: ResultColumn[] = [{ name: 'direction' }, { name: 'at_ms' }, { name: 'kind' }, { name: 'bytes' }, { name: 'text' }];

type Side = 'client' | 'target' | 'gateway';

export interface RelayRecord {
  /** a batch of message rows, or the last one with how the socket closed */
  result(summary: ResultSummary): void;
  /** both legs are closed */
  ended(reason: string): void;
}

/** What a socket got before its relay took it: listened for from its creation, so nothing is lost in between. */
export class Held {
  readonly messages: { data: RawData; binary: boolean }[] = [];
  closed: { code: number; reason: string } | null = null;
  private readonly onMessage = (data: RawData, binary: boolean) => void this.messages.push({ data, binary });
  private readonly onClose = (code: number, reason: Buffer) => void (this.closed = { code, reason: reason.toString() });

  constructor(readonly ws: WebSocket) {
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
  }

  release(): void {
    this.ws.off('message', this.onMessage);
    this.ws.off('close', this.onClose);
  }
}

export class WsRelay {
  private client: WebSocket | null = null;
  /** what the target sent before the client's upgrade completed, already masked */
  private early: { data: string | Buffer; binary: boolean }[] = [];
  private rows: (string | null)[][] = [];
  private kept = 0;
  private truncated = false;
  private masked = false;
  private closed: { side: Side; code: number; reason: string } | null = null;
  private done = false;
  private readonly startedAt = Date.now();

  private readonly target: WebSocket;
  private readonly timer: NodeJS.Timeout;

  constructor(
    held: Held,
    private readonly o: {
      masker: Masker | null;
      recordBytes: number;
      record: RelayRecord;
      /** why the caller's credential no longer holds (revoked, expired), or null */
      credentialProblem(): string | null;
    },
  ) {
    const target = (this.target = held.ws);
    this.timer = setInterval(() => this.stillAllowed(), CHECK_MS).unref();
    held.release();
    target.on('message', (data, binary) => this.fromTarget(data, binary));
    target.on('close', (code, reason) => this.onClose('target', code, reason.toString()));
    target.on('error', () => this.client?.terminate());
    for (const m of held.messages) this.fromTarget(m.data, m.binary);
    if (held.closed) this.onClose('target', held.closed.code, held.closed.reason);
  }

  /** The client's upgrade is done: what waited goes out, then messages flow both ways. */
  attach(client: WebSocket): void {
    this.client = client;
    client.on('message', (data, binary) => {
      if (!this.stillAllowed()) return;
      const buf = toBuffer(data);
      this.note('client', buf.length, binary, binary ? null : this.maskForRecord(buf.toString('utf8')));
      this.pass(client, this.target, buf, binary);
    });
    client.on('close', (code, reason) => this.onClose('client', code, reason.toString()));
    client.on('error', () => this.target.terminate());
    for (const m of this.early.splice(0)) this.pass(this.target, client, m.data, m.binary);
    if (this.target.isPaused && client.bufferedAmount < LOW_BYTES && this.target.readyState === WebSocket.OPEN) this.target.resume();
    if (this.closed) closeWith(client, this.closed.code, this.closed.reason);
  }

  /** The client went away before its upgrade completed. */
  abort(): void {
    if (this.client) return;
    this.target.terminate();
    this.onClose('client', 1006, 'the client went away before the upgrade completed', true);
  }

  private fromTarget(data: RawData, binary: boolean): void {
    if (!this.stillAllowed()) return;
    const buf = toBuffer(data);
    let out: string | Buffer = buf;
    let text: string | null = null;
    if (!binary) {
      text = buf.toString('utf8');
      if (this.o.masker) {
        const m = this.o.masker.maskText(text);
        if (m !== text) this.masked = true;
        out = text = m;
      }
    }
    this.note('target', buf.length, binary, text);
    if (this.client) return this.pass(this.target, this.client, out, binary);
    this.early.push({ data: out, binary });
    if (this.early.length > 64) this.target.pause();
  }

  /** A token revoked (or expired) while the socket is open ends it, both legs, 1008 (policy). Nothing more passes. */
  private stillAllowed(): boolean {
    if (this.closed) return this.closed.side !== 'gateway';
    const why = this.o.credentialProblem();
    if (why === null) return true;
    this.closed = { side: 'gateway', code: 1008, reason: why };
    closeWith(this.target, 1008, why);
    if (this.client) closeWith(this.client, 1008, why);
    return false;
  }

  /** Send on `to`; pause `from` while `to` has too much waiting. */
  private pass(from: WebSocket, to: WebSocket, data: string | Buffer, binary: boolean): void {
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary }, () => {
      if (from.isPaused && to.bufferedAmount < LOW_BYTES && from.readyState === WebSocket.OPEN) from.resume();
    });
    if (to.bufferedAmount > HIGH_BYTES && !from.isPaused) from.pause();
  }

  private maskForRecord(text: string): string {
    const m = this.o.masker ? this.o.masker.maskText(text) : text;
    if (m !== text) this.masked = true;
    return m;
  }

  private note(from: Side, bytes: number, binary: boolean, text: string | null): void {
    let kept: string | null = null;
    if (text !== null) {
      const room = this.o.recordBytes - this.kept;
      const b = Buffer.from(text);
      if (b.length > room) this.truncated = true;
      if (room > 0) {
        kept = b.length > room ? b.subarray(0, room).toString('utf8') : text;
        this.kept += Math.min(room, b.length);
      }
    }
    this.rows.push([from === 'client' ? 'client->target' : 'target->client', String(Date.now() - this.startedAt), binary ? 'binary' : 'text', String(bytes), kept]);
    if (this.rows.length >= BATCH) this.flush();
  }

  private flush(tag?: string): void {
    const rows = this.rows.splice(0);
    if (!rows.length && tag === undefined) return;
    this.o.record.result({
      columns: MESSAGE_COLUMNS, rows, rowCount: rows.length, durationMs: Date.now() - this.startedAt,
      ...(tag !== undefined ? { tag } : {}),
      ...(this.truncated ? { truncated: true } : {}),
      ...(this.masked ? { maskedColumns: ['text'] } : {}),
    });
  }

  private onClose(side: Side, code: number, reason: string, final = false): void {
    if (this.done) return;
    if (!this.closed) {
      this.closed = { side, code, reason };
      // the other leg closes the same way (a code that cannot be sent closes it plainly)
      const other = side === 'client' ? this.target : this.client;
      if (other) closeWith(other, code, reason);
    }
    const bothClosed = final || (this.target.readyState === WebSocket.CLOSED && (this.client === null || this.client.readyState === WebSocket.CLOSED));
    if (!bothClosed) return;
    this.done = true;
    clearInterval(this.timer);
    const c = this.closed;
    this.flush(`closed ${c.code}${c.reason ? ` ${c.reason}` : ''} by the ${c.side}`);
    this.o.record.ended(c.side === 'gateway' ? `the gateway closed the WebSocket (${c.code}): ${c.reason}` : `${c.side} closed the WebSocket (${c.code})`);
  }
}

/** Close with the other side's code; 1005 (none given) closes plainly, 1006 (no close frame) drops the socket. */
function closeWith(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  if (ws.readyState === WebSocket.CONNECTING || code === 1006) return ws.terminate();
  if (!sendable(code)) return ws.close();
  ws.close(code, reason);
}

/** RFC 6455 7.4: codes an endpoint may put in a close frame. */
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

function toBuffer(d: RawData): Buffer {
  if (Buffer.isBuffer(d)) return d;
  if (Array.isArray(d)) return Buffer.concat(d);
  return Buffer.from(d);
}
