// Tests of masking on Postgres rows: columns described as Postgres describes them (type OID,
// format), and the DataRow rebuild the Postgres engine does, over one ResultMasker.
import type { Masker, ResultMasker } from '../../src/masking/index.ts';
import { pgColumn, type PgColumn } from '../../src/protocols/postgres/value-types.ts';
import { DataRowMasker } from '../../src/protocols/postgres/data-row.ts';

export type PgResultMasker = ResultMasker & { maskDataRow(msg: Buffer, off?: number): Buffer };

export function pgResult(m: Masker, cols: (PgColumn & { pgBinary?: boolean })[]): PgResultMasker {
  const rs = m.forColumns(cols.map(({ pgBinary: _, ...c }) => pgColumn(c)));
  const rows = new DataRowMasker(rs);
  return Object.assign(rs, { maskDataRow: (msg: Buffer, off?: number) => rows.mask(msg, off) });
}
