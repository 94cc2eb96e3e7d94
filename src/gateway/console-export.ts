// A recorded result (a `result` event's data: columns and rows, masked when recorded) as a
// CSV or JSON download. Streamed row by row, so a large recorded result is never copied into
// one string; what leaves is exactly what the record holds, never the sealed originals.
import { Readable } from 'node:stream';

function columnNames(data: Record<string, unknown>, width: number): string[] {
  const cols = Array.isArray(data.columns) ? data.columns : [];
  const names = cols.map((c, i) => (typeof c === 'string' ? c : c && typeof c === 'object' && 'name' in c ? String((c as { name: unknown }).name) : `column${i + 1}`));
  for (let i = names.length; i < width; i++) names.push(`column${i + 1}`);
  return names;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  // Quote when needed; a leading =, +, - or @ is prefixed so a spreadsheet never runs it as a
  // formula (a plain number such as -5 stays a number).
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function streamResult(data: Record<string, unknown>, format: 'csv' | 'json'): Readable {
  const rows = Array.isArray(data.rows) ? (data.rows as unknown[][]) : [];
  const width = Math.max(0, ...rows.map((r) => (Array.isArray(r) ? r.length : 0)));
  const names = columnNames(data, width);
  function* csv(): Generator<string> {
    yield names.map(cell).join(',') + '\r\n';
    for (const r of rows) yield (Array.isArray(r) ? r : [r]).map(cell).join(',') + '\r\n';
  }
  function* json(): Generator<string> {
    yield '[';
    let first = true;
    for (const r of rows) {
      const o: Record<string, unknown> = {};
      (Array.isArray(r) ? r : [r]).forEach((v, i) => (o[names[i] ?? `column${i + 1}`] = v));
      yield (first ? '\n' : ',\n') + JSON.stringify(o);
      first = false;
    }
    yield '\n]\n';
  }
  return Readable.from(format === 'csv' ? csv() : json());
}
