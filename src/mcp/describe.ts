// describe_connection: schemas, tables, columns and types from information_schema, queried
// through the same pipeline as any statement (so access, rules and recording apply), at
// three detail levels so a large schema does not flood the agent's context.

export type Detail = 'names' | 'summary' | 'full';

/** At most this many tables (names/summary) or columns (full) in one answer. */
export const DESCRIBE_LIMIT = 500;

const USER_SCHEMAS = `table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%'`;

/** A name filter: `%`/`_` wildcards as given, else a case-insensitive substring. */
export function namePattern(filter: string | undefined): string {
  if (!filter) return '%';
  return /[%_]/.test(filter) ? filter : `%${filter}%`;
}

export function describeSql(detail: Detail): string {
  const match = `(table_name ILIKE $1 OR table_schema || '.' || table_name ILIKE $1)`;
  switch (detail) {
    case 'names':
      return `SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE ${USER_SCHEMAS} AND ${match} ORDER BY 1, 2 LIMIT ${DESCRIBE_LIMIT + 1}`;
    case 'summary':
      return `SELECT table_schema, table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE ${USER_SCHEMAS} AND ${match} GROUP BY 1, 2 ORDER BY 1, 2 LIMIT ${DESCRIBE_LIMIT + 1}`;
    case 'full':
      return `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE ${USER_SCHEMAS} AND ${match} ORDER BY 1, 2, ordinal_position LIMIT ${DESCRIBE_LIMIT + 1}`;
  }
}

/** Compact text: one line per table (names, summary) or per column (full). */
export function describeText(detail: Detail, rows: (string | null)[][]): { text: string; truncated: boolean } {
  const truncated = rows.length > DESCRIBE_LIMIT;
  const kept = rows.slice(0, DESCRIBE_LIMIT);
  const lines = kept.map((r) => {
    const name = `${r[0]}.${r[1]}`;
    if (detail === 'names') return `${name}${r[2] === 'VIEW' ? ' (view)' : ''}`;
    if (detail === 'summary') return `${name}: ${r[2]}`;
    return `${name}.${r[2]} ${r[3]}${r[4] === 'NO' ? ' NOT NULL' : ''}${r[5] ? ` DEFAULT ${r[5]}` : ''}`;
  });
  if (!lines.length) lines.push('No tables match.');
  if (truncated) lines.push(`TRUNCATED at ${DESCRIBE_LIMIT} ${detail === 'full' ? 'columns' : 'tables'}: narrow it with the name filter.`);
  return { text: lines.join('\n'), truncated };
}
