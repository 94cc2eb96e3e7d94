// IP addresses. IPv4 by a strict dotted-quad regex (a "v1.2.3.4" tag or a longer dotted
// number is not an address); IPv6 candidates are runs of hex digits and colons checked
// by node's own parser, so clock times and MAC addresses are rejected.
import { isIPv6 } from 'node:net';
import type { Findings } from '../findings.ts';
import { nextMatch } from './next-match.ts';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])(?:${OCTET}\\.){3}${OCTET}(?![\\w]|\\.\\d)`, 'g');

/** "version 4.7.2.0", "firmware: 1.2.0.3": a dotted quad after these words is a version, not a host. */
const VERSION_BEFORE = /(?:version|ver\.?|release|build|firmware|driver|v)[ \t]*[:=]?[ \t]*$/i;

/** Loopback, "any" and broadcast say nothing about anyone (0.0.0.0:8080 in a startup log). */
const NO_INFO_V4 = /^(?:127\.|0\.0\.0\.0$|255\.255\.255\.255$)/;

const ADDRESS_BEFORE = /(?:ip|addr|address|host|server|dns|from|to|via|@|\/\/)[ \t]*[:=]?[ \t]*$/i;

export function detectIpv4(s: string, out: Findings): void {
  IPV4.lastIndex = 0;
  // 7 characters at least: 1.2.3.4
  for (let m = nextMatch(IPV4, s, 7); m; m = nextMatch(IPV4, s, 7)) {
    const before = s.slice(Math.max(0, m.index - 12), m.index);
    if (m.index > 0 && VERSION_BEFORE.test(before)) continue;
    // Four single digits (4.7.2.0) read as a version unless an address word says otherwise.
    if (m[0].length === 7 && !ADDRESS_BEFORE.test(before)) continue;
    if (NO_INFO_V4.test(m[0])) continue;
    out.push(m.index, m.index + m[0].length, 'ip');
  }
}

function isHexOrColon(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 46;
}
function isWord(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

export function detectIpv6(s: string, out: Findings): void {
  let i = s.indexOf(':');
  while (i !== -1) {
    let a = i;
    while (a > 0 && isHexOrColon(s.charCodeAt(a - 1))) a--;
    let b = i;
    while (b < s.length && isHexOrColon(s.charCodeAt(b))) b++;
    const next = s.indexOf(':', b);
    // Trailing '.' or ':' belongs to the sentence.
    let e = b;
    while (e > a && (s.charCodeAt(e - 1) === 46 || (s.charCodeAt(e - 1) === 58 && s.charCodeAt(e - 2) !== 58))) e--;
    if ((a === 0 || !isWord(s.charCodeAt(a - 1))) && (b === s.length || !isWord(s.charCodeAt(b)))) {
      const cand = s.slice(a, e);
      if (cand.length >= 3 && cand !== '::1' && isIPv6(cand) && hexGroups(cand) >= 2) out.push(a, e, 'ip');
    }
    i = next;
  }
}

/** "a::b" parses as IPv6 but reads like C++/Ruby scope syntax; ask for a few real groups. */
function hexGroups(c: string): number {
  let n = 0;
  for (const g of c.split(':')) if (g.length > 0) n++;
  return c.includes('::') ? n + 1 : n;
}
