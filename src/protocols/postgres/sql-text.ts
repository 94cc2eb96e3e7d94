// Small pieces of Postgres text syntax the relay writes or reads itself.

/** An identifier quoted so that the server reads exactly this name. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The elements of a one-dimensional text array in its output form (`{pg_catalog,public}`,
 * `{"my schema",x}`); null when the text is not such an array.
 */
export function parseTextArray(text: string): string[] | null {
  if (!text.startsWith('{') || !text.endsWith('}')) return null;
  const out: string[] = [];
  let i = 1;
  const end = text.length - 1;
  if (i === end) return out;
  while (i <= end) {
    let v = '';
    if (text[i] === '"') {
      i++;
      while (i < end && text[i] !== '"') {
        if (text[i] === '\\') i++;
        v += text[i];
        i++;
      }
      if (text[i] !== '"') return null;
      i++;
    } else {
      while (i < end && text[i] !== ',') v += text[i++];
      if (v === 'NULL' || v.includes('{') || v.includes('"')) return null;
    }
    out.push(v);
    if (i === end) break;
    if (text[i] !== ',') return null;
    i++;
  }
  return out;
}
