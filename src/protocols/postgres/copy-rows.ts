// Rows of COPY ... TO STDOUT in text and CSV format, one per CopyData message (Postgres
// sends each row whole, quoted newlines included), split into fields so that column
// rules can apply to the COPY of a table as they do to its SELECT. Unchanged fields are
// copied as they came; a replaced field is written in the format's own way.

export interface CopyRowFormat {
  format: 'text' | 'csv';
  delimiter: string;
  /** csv only */
  quote: string;
}

/**
 * A field's new value: a string, null for NULL, undefined to keep it. `value` is the
 * field as written (text format: with its backslash escapes; csv: unquoted), null for NULL.
 */
export type CopyFieldMasker = (field: number, value: string | null) => string | null | undefined;

/** Mask one row; the same string comes back when nothing changed, null when it does not parse. */
export function maskCopyRow(line: string, f: CopyRowFormat, mask: CopyFieldMasker): string | null {
  const eol = line.endsWith('\r\n') ? 2 : line.endsWith('\n') ? 1 : 0;
  const body = line.slice(0, line.length - eol);
  const fields = f.format === 'csv' ? splitCsv(body, f.delimiter, f.quote) : splitText(body, f.delimiter);
  if (fields === null) return null;
  let out = '';
  let from = 0;
  let changed = false;
  for (let i = 0; i < fields.length; i++) {
    const fld = fields[i]!;
    const next = mask(i, fld.value);
    if (next === undefined || next === fld.value) continue;
    out += body.slice(from, fld.start) + (f.format === 'csv' ? csvField(next, f) : textField(next, f.delimiter));
    from = fld.end;
    changed = true;
  }
  return changed ? out + body.slice(from) + line.slice(line.length - eol) : line;
}

interface Field {
  /** where the field's text is in the row (quotes included) */
  start: number;
  end: number;
  value: string | null;
}

/** Text format: `\N` is NULL; a backslash escapes the character after it (the delimiter too). */
function splitText(body: string, delimiter: string): Field[] {
  const fields: Field[] = [];
  let start = 0;
  for (let i = 0; i <= body.length; i++) {
    if (i < body.length && body[i] === '\\') {
      i++;
      continue;
    }
    if (i === body.length || body[i] === delimiter) {
      const raw = body.slice(start, i);
      fields.push({ start, end: i, value: raw === '\\N' ? null : raw });
      start = i + 1;
    }
  }
  return fields;
}

/** CSV: an unquoted empty field is NULL; quotes double inside a quoted field. Null when malformed. */
function splitCsv(body: string, delimiter: string, quote: string): Field[] | null {
  const fields: Field[] = [];
  let i = 0;
  for (;;) {
    const start = i;
    let value: string | null;
    if (body[i] === quote) {
      value = '';
      i++;
      for (;;) {
        if (i >= body.length) return null; // no closing quote
        if (body[i] === quote) {
          if (body[i + 1] === quote) {
            value += quote;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += body[i++];
      }
      if (i < body.length && body[i] !== delimiter) return null;
    } else {
      while (i < body.length && body[i] !== delimiter) i++;
      value = i === start ? null : body.slice(start, i);
    }
    fields.push({ start, end: i, value });
    if (i >= body.length) return fields;
    i++; // the delimiter
  }
}

function csvField(v: string | null, f: CopyRowFormat): string {
  if (v === null) return '';
  return f.quote + v.split(f.quote).join(f.quote + f.quote) + f.quote;
}

/** Text format: NULL is `\N`; a replacement is escaped where it would end the field or the row. */
function textField(v: string | null, delimiter: string): string {
  if (v === null) return '\\N';
  let out = '';
  for (const ch of v) out += ch === delimiter ? `\\${ch}` : ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : ch;
  return out;
}
