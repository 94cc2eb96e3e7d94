// A key that appears twice in one JSON object: JSON.parse keeps the last, other parsers the
// first or refuse, so a body with one is judged as opaque rather than by one reading.
// Keys are compared decoded (`"mod\u0065l"` is `"model"`). The text must be valid JSON
// (JSON.parse accepted it): this walks its tokens without checking the grammar again.

/** The first key found twice in one object, or null. Iterative: no depth limit. */
export function duplicateKey(json: string): string | null {
  // one entry per open container: the keys seen so far in an object, null for an array
  const stack: (Set<string> | null)[] = [];
  for (let i = 0; i < json.length; i++) {
    const ch = json.charCodeAt(i);
    if (ch === 0x7b /* { */) stack.push(new Set());
    else if (ch === 0x5b /* [ */) stack.push(null);
    else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) stack.pop();
    else if (ch === 0x22 /* " */) {
      const end = stringEnd(json, i);
      const keys = stack[stack.length - 1];
      if (keys && nextToken(json, end + 1) === 0x3a /* : */) {
        const raw = json.slice(i, end + 1);
        // only a key with an escape needs decoding
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end;
    }
  }
  return null;
}

/** The index of the quote that closes the string opened at `start`. */
function stringEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22) return i;
  }
  return s.length;
}

function nextToken(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}
