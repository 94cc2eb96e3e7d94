// Asks the remote whether a commit is reachable from others it has, without fetching
// anything: a protocol v2 fetch that wants the old commit and says it has the given ones,
// done at once. upload-pack then packs what the old commit needs that those do not reach:
// nothing (a pack of 0 objects) exactly when the old commit is in their history. Only the
// pack's 12-byte header is read; the answer is closed after it. A remote that does not speak
// protocol v2, one silent for 30 s, or any other answer, is "cannot tell" (the caller counts a
// force push).
import type { GitConnectionConfig } from '../../config/schema.ts';
import type { UpstreamPool } from '../http/upstream-pool.ts';
import { FLUSH, pktLine, PktReader } from './pkt-line.ts';
import { sendUpstream } from './upstream.ts';

export async function reachableOnRemote(conn: GitConnectionConfig, pool: UpstreamPool, repo: string, old: string, from: string[]): Promise<boolean | string> {
  const body = Buffer.concat([
    pktLine('command=fetch\n'), pktLine('agent=warden\n'), Buffer.from('0001'),
    pktLine('no-progress\n'), pktLine(`want ${old}\n`), ...from.map((id) => pktLine(`have ${id}\n`)), pktLine('done\n'), FLUSH,
  ]);
  const res = await sendUpstream(conn, pool, {
    method: 'POST', repo, suffix: '/git-upload-pack', body, timeoutMs: 30_000,
    headers: { 'content-type': 'application/x-git-upload-pack-request', accept: 'application/x-git-upload-pack-result', 'git-protocol': 'version=2' },
  });
  if (res.statusCode !== 200) {
    res.resume();
    return `the remote answered the ancestry check with HTTP ${res.statusCode}`;
  }
  const reader = new PktReader();
  let inPack = false;
  let pack = Buffer.alloc(0);
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      reader.push(chunk);
      for (let p = reader.next(); p; p = reader.next()) {
        if (p.kind !== 'data') continue;
        if (!inPack) {
          const text = p.payload.toString('utf8');
          if (text.startsWith('ERR ')) return `the remote said: ${text.slice(4).trim()}`;
          if (text === 'packfile\n') inPack = true;
          // other sections (acknowledgments, shallow-info) are skipped; v0 answers never say "packfile"
          continue;
        }
        const band = p.payload[0];
        if (band === 3) return `the remote said: ${p.payload.subarray(1).toString('utf8').trim()}`;
        if (band !== 1) continue;
        pack = Buffer.concat([pack, p.payload.subarray(1)]);
        if (pack.length >= 12) {
          if (pack.toString('latin1', 0, 4) !== 'PACK') return 'the remote\'s answer is not a pack';
          return pack.readUInt32BE(8) === 0;
        }
      }
    }
    return 'the remote did not answer with a pack (does it speak protocol v2?)';
  } finally {
    res.destroy();
  }
}
