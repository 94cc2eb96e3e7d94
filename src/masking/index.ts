// The masking library's public surface: engines and front doors import from here only.
//
// How an engine uses it (Postgres):
//   const masker = compileMasker(resolveMaskingConfig(global, connection.masking));  // once per connection
//   on RowDescription:  const rs = masker.forColumns(fields.map((f) => ({ name, table, schema, value })));
//                       (value: the column's neutral value type, which the engine derives from its
//                       own type codes: src/protocols/postgres/value-types.ts, mysql/column-types.ts)
//   on each row:        per value, rs.maskWire(i, buf, start, end) (undefined: unchanged), and the
//                       engine rebuilds its row (Postgres: protocols/postgres/data-row.ts);
//                       or rs.maskText(i, text) / rs.maskBytes(i, buf, start, end)
//   on COPY TO data:    per field, rs.maskText(i, text) / rs.maskBytes(i, ...) with the columns of the
//                       COPY's table when known (COPY sends no RowDescription); else masker.maskText(line)
//   on NOTICE / ERROR:  masker.maskMessage(text)         (Key (email)=(...) follows column rules)
//   on CommandComplete: rs.maskedColumns()               (names of the columns where something was masked)
// Front doors: masker.maskText(s), masker.maskJson(v), masker.createStreamMasker().push(chunk) / .end().
export { compileMasker, type Masker, type CompileOptions } from './masker.ts';
export { ResultMasker } from './result.ts';
export type { ColumnInfo } from './columns.ts';
export { TEXT_VALUE, type BinaryForm, type TypeClass, type ValueKind, type ValueType } from './value-types.ts';
export type { StreamMasker, StreamMaskerOptions } from './stream.ts';
export {
  maskingConfigSchema,
  connectionMaskingSchema,
  resolveMaskingConfig,
  type MaskingConfig,
  type MaskingInput,
  type ConnectionMasking,
} from './config.ts';
export { BUILTIN_ENTITIES, GROUPS, type Entity, type BuiltinEntity } from './entities.ts';
export type { Style } from './styles.ts';
export { ECHOED_VALUE } from './styles.ts';
