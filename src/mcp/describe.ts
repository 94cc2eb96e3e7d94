// describe_connection: schemas, tables, columns and types from information_schema (the query
// is the connection's engine's), run through the same pipeline as any statement (so access,
// rules and recording apply), at three detail levels so a large schema does not flood the
// agent's context.
import type { Detail } from '../protocols/engine.ts';

/** At most this many tables (names/summary) or columns (full) in one answer. */
export const DESCRIBE_LIMIT = 500;

/** A name filter: `%`/`_` wildcards as given, else a case-insensitive substring. */
export function namePattern(filter: string | undefined): string {
  if (!filter) return '%';
  return /[%_]/.test(filter) ? filter : `%${filter}%`;
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
