// Durations as people write them in configs and flags: 90s, 15m, 1h, 7d, 1h30m.
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(text: string): number {
  const s = text.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
  let total = 0, consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed = m.index + m[0].length;
  }
  if (!s || consumed !== s.length || total <= 0) throw new Error(`invalid duration "${text}" (expected e.g. 30m, 1h, 7d)`);
  return Math.round(total);
}
