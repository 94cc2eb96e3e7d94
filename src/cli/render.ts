// Plain-text tables and replay formatting for the CLI. Output is for people; --json
// gives scripts the same data unformatted.
import { isTerminalResult, renderTerminalResult } from './render-terminal.ts';
import { renderHttpRow } from './render-http.ts';
import type { TransferFacts } from '../session/types.ts';
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.join(',');
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.replace(/\s+/g, ' ');
}

export function shorten(s: string, max = 100): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

interface ReplayEvent {
  seq: number;
  ts: string;
  type: string;
  actor?: string | null;
  data: Record<string, unknown>;
}

/** The replay of a session: every command in order with identity, time, decision and result. */
export function renderReplay(session: Record<string, unknown>, events: ReplayEvent[]): string {
  const out: string[] = [];
  out.push(`session ${session.id}`);
  out.push(`  connection ${session.connection} (${session.protocol})   identity ${session.identityName}   client ${session.clientAddr}`);
  out.push(`  started ${session.startedAt}   ended ${session.endedAt ?? '(open)'}${session.endReason ? `   reason: ${session.endReason}` : ''}`);
  const results = new Map<string, ReplayEvent[]>();
  for (const e of events) {
    if (e.type !== 'result') continue;
    const id = String(e.data.commandId);
    results.set(id, [...(results.get(id) ?? []), e]);
  }
  let n = 0;
  for (const e of events) {
    if (e.type !== 'command') continue;
    const d = e.data;
    n++;
    out.push('');
    out.push(`#${n} ${e.ts}  ${e.actor ?? ''}  ${String(d.decision).toUpperCase()}${d.reason ? ` (${d.reason})` : ''}`);
    out.push(`  ${String(d.text).split('\n').join('\n  ')}`);
    if (Array.isArray(d.params) && d.params.length) out.push(`  params: ${JSON.stringify(d.params)}`);
    for (const r of results.get(String(d.commandId)) ?? []) out.push(...renderResult(r.data));
  }
  if (n === 0) out.push('', '(no commands)');
  return out.join('\n');
}

function renderResult(r: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const err = r.error as { code?: string; message: string } | undefined;
  const head = err ? `ERROR ${err.code ?? ''} ${err.message}` : `${r.tag || 'OK'}`;
  if (isTerminalResult(r)) return [`  -> ${head}  (${r.durationMs} ms)`, ...renderTerminalResult(r)];
  if (r.transfer) return [renderTransfer(r.transfer as TransferFacts, r.durationMs, err?.message)];
  lines.push(`  -> ${head}  (${r.rowCount} rows, ${r.durationMs} ms)`);
  const cols = (r.columns as { name: string }[] | undefined)?.map((c) => c.name);
  const rows = r.rows as (string | null)[][] | undefined;
  // an HTTP exchange reads better as its conversation than as a table of JSON cells
  if (cols?.includes('response_headers') && rows?.length === 1) return [...lines, ...renderHttpRow(cols, rows[0]!).map((l) => `     ${l}`)];
  if (cols && rows?.length) {
    const shown = rows.slice(0, 20).map((row) => Object.fromEntries(cols.map((c, i) => [c, row[i] === null ? 'NULL' : shorten(String(row[i]), 40)])));
    lines.push(...table(shown, cols).split('\n').map((l) => `     ${l}`));
    if (rows.length > 20 || r.truncated) lines.push(`     … ${Number(r.rowCount) - Math.min(rows.length, 20)} more rows${r.truncated ? ' (record truncated)' : ''}`);
  }
  return lines;
}

/** A file moved over SFTP or SCP: one line, `  -> upload /srv/app.tar  5.0 MB  sha256 9f86d0...  ok  (812 ms)`. */
function renderTransfer(t: TransferFacts, ms: unknown, error?: string): string {
  const hash = t.sha256 ? `sha256 ${t.sha256}` : 'sha256 unknown (not sent in order)';
  return `  -> ${t.direction} ${t.path}  ${size(t.bytes)}  ${hash}  ${t.status}${error ? `: ${error}` : ''}  (${ms} ms)`;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]} (${bytes} bytes)`;
}
