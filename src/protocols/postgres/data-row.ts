// A Postgres DataRow with its values masked ('D', int32 length, int16 count, then per column
// int32 length (-1 = NULL) and bytes): the engine walks its own row format and asks the
// result masker for each value; the row is rebuilt only when something changed.
import type { ResultMasker } from '../../masking/index.ts';
import type { Replacement } from '../../masking/result.ts';
import { copyWords, out, take, utf8Length, viewOf } from './row-bytes.ts';

export class DataRowMasker {
  /** The buffer mask() last read, and a DataView of it (rows come many to a socket read). */
  private viewed: Buffer | null = null;
  private view: DataView | null = null;
  private readonly columns: number;

  // The values replaced in the current row, reused row after row: where each one's length
  // field is in the message, and what comes instead (then its byte length).
  private readonly replacedAt: number[] = [];
  private readonly replacement: Replacement[] = [];
  private readonly replacementLength: number[] = [];

  constructor(readonly rs: ResultMasker) {
    this.columns = rs.columns.length;
  }

  /** `msg` itself when nothing changed (nothing allocated), else a new message. */
  mask(msg: Buffer, off = 0): Buffer {
    if (!this.rs.active) return msg;
    if (msg !== this.viewed) {
      this.viewed = msg;
      this.view = viewOf(msg);
    }
    const view = this.view!;
    // A row is read within its frame only: a length that runs past it (a broken target)
    // would read the next frame, and rebuild a row of a negative size.
    if (off + 7 > msg.length) throw new RangeError('DataRow is shorter than its header');
    const end = off + 1 + view.getInt32(off + 1);
    if (end > msg.length || end < off + 7) throw new RangeError('DataRow length does not fit the buffer');
    const n = Math.min(view.getInt16(off + 5), this.columns); // a negative count reads nothing
    const rs = this.rs;
    let pos = off + 7;
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (pos + 4 > end) throw new RangeError('DataRow is shorter than its fields');
      const len = view.getInt32(pos);
      if (len < 0) {
        pos += 4;
        continue;
      }
      if (pos + 4 + len > end) throw new RangeError('DataRow value runs past its frame');
      const r = rs.maskWire(i, msg, pos + 4, pos + 4 + len);
      if (r !== undefined) {
        this.replacedAt[k] = pos;
        this.replacement[k] = r;
        k++;
      }
      pos += 4 + len;
    }
    return k === 0 ? msg : this.rebuild(view, off, k);
  }

  /**
   * A new DataRow with the first `k` replacements. One allocation; what lies between two
   * replaced values (other values, lengths and all) is copied in one piece.
   */
  private rebuild(msg: DataView, off: number, k: number): Buffer {
    const end = off + 1 + msg.getInt32(off + 1);
    let size = end - off;
    for (let j = 0; j < k; j++) {
      const r = this.replacement[j];
      const n = r === null || r === undefined ? -1 : typeof r === 'string' ? utf8Length(r) : r.length;
      this.replacementLength[j] = n;
      size += Math.max(n, 0) - msg.getInt32(this.replacedAt[j]);
    }
    const row = take(size);
    const { view, bytes, base } = out;
    view.setUint8(base, 0x44); // 'D'
    view.setInt32(base + 1, size - 1);
    view.setUint16(base + 5, msg.getUint16(off + 5));
    let w = base + 7;
    let from = off + 7;
    for (let j = 0; j < k; j++) {
      const at = this.replacedAt[j];
      const r = this.replacement[j];
      const n = this.replacementLength[j];
      w = copyWords(msg, from, at, view, w);
      view.setInt32(w, n);
      w += 4;
      if (typeof r === 'string') {
        if (n === r.length) for (let i = 0; i < n; i++) bytes[w + i] = r.charCodeAt(i); // ASCII, the rule
        else row.write(r, w - base, n, 'utf8');
        w += n;
      } else if (r) {
        // Short: "[EMAIL]" from a rule; a view for the word copy would cost more than it saves.
        if (n <= 64) for (let i = 0; i < n; i++) bytes[w + i] = r[i];
        else bytes.set(r, w);
        w += n;
      }
      from = at + 4 + msg.getInt32(at);
      this.replacement[j] = undefined; // hold no value past the row
    }
    copyWords(msg, from, end, view, w);
    return row;
  }
}
