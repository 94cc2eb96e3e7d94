// npm run bench:git — the real `git` client against `git http-backend` (test/helpers/git-backend.ts)
// directly and through Warden's git door, same run: a push of one commit holding BENCH_MB
// (default 100) MB of random bytes (a pack git cannot compress: the door spools it, scans its
// objects and judges it before sending it on), then a clone of it. Also the resident memory of
// this process (gateway and test remote together) at the start and its peak while each
// transfer runs through the gateway: it stays flat whatever BENCH_MB.
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway } from '../test/helpers/gateway.ts';
import { startGitBackend, gitEnv } from '../test/helpers/git-backend.ts';

const MB = Number(process.env.BENCH_MB ?? 100);
const REMOTE = { username: 'bench-bot', password: 'bench-remote-secret' };
const home = mkdtempSync(join(tmpdir(), 'warden-bench-git-'));
const env = gitEnv(home);

// async: the test remote runs in this process and must keep answering
const git = (args: string[]) => new Promise<number>((resolve, reject) => {
  const t0 = performance.now();
  execFile('git', args, { env, maxBuffer: 1 << 20 }, (e, _out, err) => (e ? reject(new Error(`git ${args[0]}: ${err}`)) : resolve(performance.now() - t0)));
});

/** runs f while sampling this process's RSS; its peak, in MB */
async function sampled<T>(f: () => Promise<T>): Promise<[T, number]> {
  let peak = process.memoryUsage().rss;
  const iv = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    return [await f(), peak / 1e6];
  } finally {
    clearInterval(iv);
  }
}

const remote = await startGitBackend(REMOTE);
const t = await startTestGateway({ connections: [{ name: 'repos', type: 'git', url: remote.url, credential: REMOTE, access: { groups: ['bench'] } }] });
try {
  remote.createRepo('direct');
  remote.createRepo('via');
  const token = await t.token(['bench'], 'bench');
  const startRss = process.memoryUsage().rss;
  const src = join(home, 'src');
  await git(['init', '-q', '-b', 'main', src]);
  // written a MiB at a time, so the blob never sits in this process's memory
  for (let i = 0; i < MB; i++) appendFileSync(join(src, 'blob'), randomBytes(1024 * 1024));
  await git(['-C', src, 'add', 'blob']);
  await git(['-C', src, 'commit', '-qm', 'big']);
  const direct = `${remote.url.replace('http://', `http://${REMOTE.username}:${REMOTE.password}@`)}/direct.git`;
  const via = new URL(`${t.httpUrl}/git/repos/via.git`);
  via.username = 'bench';
  via.password = token;
  const pushDirect = await git(['-C', src, 'push', '-q', direct, 'main']);
  const [pushVia, pushMem] = await sampled(() => git(['-C', src, 'push', '-q', via.toString(), 'main']));
  const cloneDirect = await git(['clone', '-q', direct, join(home, 'c1')]);
  const [cloneVia, cloneMem] = await sampled(() => git(['clone', '-q', via.toString(), join(home, 'c2')]));
  const s = (ms: number) => (ms / 1000).toFixed(1);
  console.log(`resident memory of the gateway and test remote at the start: ${(startRss / 1e6).toFixed(0)} MB`);
  console.log('| measure | direct | via Warden |\n|---|---|---|');
  console.log(`| push of ${MB} MB (s) | ${s(pushDirect)} | ${s(pushVia)} (${(pushVia / pushDirect).toFixed(2)}x), peak RSS ${pushMem.toFixed(0)} MB |`);
  console.log(`| clone of ${MB} MB (s) | ${s(cloneDirect)} | ${s(cloneVia)} (${(cloneVia / cloneDirect).toFixed(2)}x), peak RSS ${cloneMem.toFixed(0)} MB |`);
} finally {
  await t.close();
  await remote.close();
  rmSync(home, { recursive: true, force: true });
}
