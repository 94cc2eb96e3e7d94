// Entities the config defines: a regex, or a deny-list of literal values (names of
// projects, customer codes...) compiled into one case-insensitive alternation.
import type { Findings } from '../findings.ts';

export interface CustomEntity {
  name: string;
  regex?: string;
  flags?: string;
  denyList?: string[];
  caseSensitive?: boolean;
}

export type Detector = (s: string, out: Findings) => void;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileCustom(e: CustomEntity): Detector {
  let re: RegExp;
  if (e.regex !== undefined) {
    const flags = new Set((e.flags ?? '').split(''));
    flags.add('g');
    if (e.caseSensitive === false) flags.add('i');
    re = new RegExp(e.regex, [...flags].join(''));
  } else {
    // Longest first, so "Acme Corp" wins over "Acme"; whole words only.
    const words = [...(e.denyList ?? [])].filter((w) => w.length > 0).sort((a, b) => b.length - a.length);
    if (words.length === 0) return () => {};
    re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${words.map(escape).join('|')})(?![\\p{L}\\p{N}_])`, e.caseSensitive ? 'gu' : 'giu');
  }
  const name = e.name;
  return (s, out) => {
    re.lastIndex = 0;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      out.push(m.index, m.index + m[0].length, name);
    }
  };
}
