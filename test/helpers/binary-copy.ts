// Reading COPY ... (FORMAT binary) output in tests: tuples of fields (null for NULL).

/** The tuples in b[from, to), up to the trailer (int16 -1) or the end; and where reading stopped. */
export function binaryCopyTuples(b: Buffer, from = 0, to = b.length): { tuples: (Buffer | null)[][]; end: number } {
  const tuples: (Buffer | null)[][] = [];
  let pos = from;
  while (pos < to) {
    const count = b.readInt16BE(pos);
    pos += 2;
    if (count === -1) break;
    const fields: (Buffer | null)[] = [];
    for (let i = 0; i < count; i++) {
      const len = b.readInt32BE(pos);
      pos += 4;
      fields.push(len < 0 ? null : b.subarray(pos, pos + len));
      if (len > 0) pos += len;
    }
    tuples.push(fields);
  }
  return { tuples, end: pos };
}

/** Where the tuples of a whole binary COPY file start: after the signature, flags and header extension. */
export function binaryCopyHeaderEnd(b: Buffer): number {
  return 19 + b.readUInt32BE(15);
}
