// The git door with the real `git` client against `git http-backend` (test/helpers/git-backend.ts),
// which demands the credential the gateway injects. Ground truth is the bare repository on the
// remote (where its refs point) and what reached the remote (every request and its
// Authorization): a refused push leaves the ref where it was and sends nothing; the caller's
// Warden token never reaches the remote. Hostile streams (a command hidden after the flush, a
// pkt length that lies, a ref name hiding a second one) are refused without reaching it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startGitBackend, gitEnv, type GitBackend } from '../helpers/git-backend.ts';
import { commandsOf, resultsOf } from '../helpers/records.ts';

const REMOTE = { username: 'remote-bot', password: 'remote-secret-0123456789' };
let t: TestGateway;
let remote: GitBackend;
let token: string;
let approver: string;
let home: string;
let work: string;

before(async () => {
  remote = await startGitBackend(REMOTE);
  remote.createRepo('app');
  t = await startTestGateway({
    connections: [{ name: 'repos', type: 'git', url: remote.url, credential: REMOTE, access: { groups: ['dev'] } }],
    rules: [
      { name: 'no-force', match: { types: ['git'], git: { force: true } }, action: 'block', message: 'force pushes are not allowed here' },
      { name: 'release-review', match: { types: ['git'], git: { refs: ['refs/heads/release'] } }, action: 'review', review: { groups: ['approver'] } },
    ],
  });
  token = await t.token(['dev'], 'git-dev');
  approver = await t.token(['dev', 'approver'], 'git-approver');
  home = mkdtempSync(join(tmpdir(), 'warden-git-home-'));
  work = mkdtempSync(join(tmpdir(), 'warden-git-work-'));
  // the remote starts with one commit, pushed to it directly (with its own credential)
  const seed = join(work, 'seed');
  await git(['init', '-q', '-b', 'main', seed]);
  writeFileSync(join(seed, 'README'), 'hello\n');
  await git(['-C', seed, 'add', 'README']);
  await git(['-C', seed, 'commit', '-qm', 'first']);
  const direct = remote.url.replace('http://', `http://${REMOTE.username}:${REMOTE.password}@`);
  await git(['-C', seed, 'push', '-q', `${direct}/app.git`, 'main']);
});
after(async () => {
  await t?.close();
  await remote?.close();
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function git(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd: opts.cwd ?? work, env: gitEnv(home, opts.env), timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
async function ok(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const r = await git(args, opts);
  assert.equal(r.code, 0, `git ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}
const gatewayRepo = (secret: string | null = token, repo = 'app.git') => {
  const u = new URL(`${t.httpUrl}/git/repos/${repo}`);
  if (secret !== null) {
    u.username = 'me';
    u.password = secret;
  }
  return u.toString();
};
async function commit(dir: string, file: string, text: string): Promise<string> {
  writeFileSync(join(dir, file), text);
  await ok(['-C', dir, 'add', file]);
  await ok(['-C', dir, 'commit', '-qm', `edit ${file}`]);
  return (await ok(['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim();
}
const receivePosts = () => remote.seen.filter((s) => s.method === 'POST' && s.url.endsWith('/git-receive-pack')).length;

let clone: string;

test('clone through the gateway: the remote gets the injected credential, never the caller\'s token', async () => {
  clone = join(work, 'clone');
  await ok(['clone', '-q', gatewayRepo(), clone]);
  assert.equal(readFileSync(join(clone, 'README'), 'utf8'), 'hello\n');
  const expected = `Basic ${Buffer.from(`${REMOTE.username}:${REMOTE.password}`).toString('base64')}`;
  const viaGateway = remote.seen.filter((s) => s.url.includes('service=') || s.url.endsWith('-pack'));
  assert.ok(viaGateway.length >= 2);
  for (const s of remote.seen) assert.ok(!(s.authorization ?? '').includes(Buffer.from(`me:${token}`).toString('base64')) && !(s.authorization ?? '').includes(token));
  for (const s of viaGateway.slice(-2)) assert.equal(s.authorization, expected);
  const cmds = (await commandsOf(t, 'git-dev')).map((e) => e.data.text as string);
  assert.ok(cmds.includes('advertise app.git (git-upload-pack)'), cmds.join('\n'));
  assert.ok(cmds.some((c) => /^fetch app\.git want 1: [0-9a-f]{12} have 0$/.test(c)), cmds.join('\n'));
});

test('a fast-forward push reaches the remote; the record has the ref, ids, commit count and the remote\'s ok', async () => {
  const old = remote.refOf('app', 'refs/heads/main')!;
  await commit(clone, 'a.txt', 'one\n');
  const head = await commit(clone, 'b.txt', 'two\n');
  await ok(['-C', clone, 'push', '-q', 'origin', 'main']);
  assert.equal(remote.refOf('app', 'refs/heads/main'), head);
  const cmds = await commandsOf(t, 'git-dev');
  const push = cmds.find((e) => e.data.text === `push app.git: refs/heads/main ${old} -> ${head}`);
  assert.ok(push, cmds.map((e) => e.data.text).join('\n'));
  assert.equal(push.data.decision, 'allow');
  const result = (await resultsOf(t, 'git-dev')).find((e) => e.data.commandId === push.data.commandId)!;
  assert.deepEqual(result.data.rows, [['refs/heads/main', old, head, 'fast-forward', 'ok']]);
  assert.match(String(result.data.tag), /^200 2 commits; ok$/);
});

test('a thin pack (a changed file sent as a delta on the remote\'s copy) is read and judged a fast-forward', async () => {
  const text = Array.from({ length: 3000 }, (_, i) => `line ${i} of a file that git will send as a delta next time`).join('\n');
  await commit(clone, 'big.txt', `${text}\n`);
  await ok(['-C', clone, 'push', '-q', 'origin', 'main']);
  const head = await commit(clone, 'big.txt', `${text.replace('line 1500 ', 'LINE 1500 ')}\n`);
  await ok(['-C', clone, 'push', '-q', 'origin', 'main']);
  assert.equal(remote.refOf('app', 'refs/heads/main'), head);
  const cmd = (await commandsOf(t, 'git-dev')).findLast((e) => String(e.data.text).startsWith('push '))!;
  assert.doesNotMatch(String(cmd.data.text), /force/);
  const result = (await resultsOf(t, 'git-dev')).find((e) => e.data.commandId === cmd.data.commandId)!;
  // the blob (and the tree) came as deltas on objects only the remote holds
  assert.match(String(result.data.tag), /^200 1 commit \(\+\d+ deltas? on objects the pack does not hold\); ok$/);
});

test('a force push is blocked before it reaches the remote: the ref stays, git shows why', async () => {
  const before = remote.refOf('app', 'refs/heads/main')!;
  const posts = receivePosts();
  await ok(['-C', clone, 'reset', '-q', '--hard', 'HEAD~1']);
  await commit(clone, 'c.txt', 'rewritten\n');
  const r = await git(['-C', clone, 'push', '-f', 'origin', 'main']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /remote rejected.*warden: blocked: force pushes are not allowed here/);
  assert.match(r.stderr, /remote: warden: blocked/);
  assert.equal(remote.refOf('app', 'refs/heads/main'), before);
  assert.equal(receivePosts(), posts, 'nothing of the push reached the remote');
  const cmd = (await commandsOf(t, 'git-dev')).findLast((e) => String(e.data.text).startsWith('push '))!;
  assert.match(String(cmd.data.text), / force$/);
  assert.equal(cmd.data.decision, 'block');
  // back in line with the remote for the next tests
  await ok(['-C', clone, 'fetch', '-q', 'origin']);
  await ok(['-C', clone, 'reset', '-q', '--hard', 'origin/main']);
});

test('a rewind with no new objects (an older commit pushed) is a force push, judged with the remote\'s help', async () => {
  const before = remote.refOf('app', 'refs/heads/main')!;
  const r = await git(['-C', clone, 'push', '-f', 'origin', 'HEAD~1:refs/heads/main']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /force pushes are not allowed here/);
  assert.equal(remote.refOf('app', 'refs/heads/main'), before);
});

test('moving a branch to a commit the remote already has is a fast-forward proven by the remote', async () => {
  const head = await commit(clone, 'f.txt', 'feature\n');
  await ok(['-C', clone, 'push', '-q', 'origin', 'HEAD:refs/heads/feature']);
  assert.equal(remote.refOf('app', 'refs/heads/feature'), head);
  // main -> feature sends no commit: only the remote can say main is in feature's history
  await ok(['-C', clone, 'push', '-q', 'origin', 'HEAD:refs/heads/main']);
  assert.equal(remote.refOf('app', 'refs/heads/main'), head);
});

test('a remote that cannot answer the ancestry question (protocol v0 only): such an update counts as a force push', async () => {
  const old = await startGitBackend(REMOTE, { v0Only: true });
  const gw = await startTestGateway({
    connections: [{ name: 'v0', type: 'git', url: old.url, credential: REMOTE, access: { groups: ['dev'] } }],
    rules: [{ name: 'no-force', match: { git: { force: true } }, action: 'block' }],
  });
  try {
    old.createRepo('lib');
    const dev = await gw.token(['dev'], 'v0-dev');
    const url = new URL(`${gw.httpUrl}/git/v0/lib.git`);
    url.username = 'me';
    url.password = dev;
    const dir = join(work, 'v0-lib');
    await ok(['init', '-q', '-b', 'main', dir]);
    const first = await commit(dir, 'a', '1\n');
    await ok(['-C', dir, 'push', '-q', url.toString(), 'main']);
    // new commits in the pack prove a fast-forward without asking the remote
    const second = await commit(dir, 'a', '2\n');
    await ok(['-C', dir, 'push', '-q', url.toString(), 'main']);
    assert.equal(old.refOf('lib', 'refs/heads/main'), second);
    await ok(['-C', dir, 'push', '-q', url.toString(), `${first}:refs/heads/side`]);
    // side -> second sends no commit: only the remote could prove it, and it cannot
    const r = await git(['-C', dir, 'push', url.toString(), `${second}:refs/heads/side`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /blocked/);
    assert.equal(old.refOf('lib', 'refs/heads/side'), first);
    const cmds = await commandsOf(gw, 'v0-dev');
    assert.match(String(cmds.at(-1)!.data.text), / force$/);
    assert.equal(cmds.at(-1)!.data.decision, 'block');
  } finally {
    await gw.close();
    await old.close();
  }
});

test('a push to a protected branch is held for review, nothing is sent; once approved the same push goes through', async () => {
  const posts = receivePosts();
  const head = (await ok(['-C', clone, 'rev-parse', 'HEAD'])).stdout.trim();
  const held = await git(['-C', clone, 'push', 'origin', 'HEAD:refs/heads/release']);
  assert.notEqual(held.code, 0);
  const m = /held for review (r[0-9a-f]+)/.exec(held.stderr);
  assert.ok(m, held.stderr);
  assert.equal(remote.refOf('app', 'refs/heads/release'), null);
  assert.equal(receivePosts(), posts);
  const vote = await fetch(`${t.httpUrl}/api/v1/reviews/${m[1]}/approve`, { method: 'POST', headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'fine' }) });
  assert.equal(vote.status, 200, await vote.text());
  await ok(['-C', clone, 'push', '-q', 'origin', 'HEAD:refs/heads/release']);
  assert.equal(remote.refOf('app', 'refs/heads/release'), head);
});

test('a deletion reaches the remote and is recorded as one', async () => {
  assert.ok(remote.refOf('app', 'refs/heads/feature'));
  await ok(['-C', clone, 'push', '-q', 'origin', ':refs/heads/feature']);
  assert.equal(remote.refOf('app', 'refs/heads/feature'), null);
  const cmd = (await commandsOf(t, 'git-dev')).findLast((e) => String(e.data.text).startsWith('push '))!;
  assert.match(String(cmd.data.text), /^push app\.git: refs\/heads\/feature [0-9a-f]{40} -> 0{40} delete$/);
});

test('fetch brings a commit pushed to the remote by someone else', async () => {
  const other = join(work, 'other');
  await ok(['clone', '-q', gatewayRepo(), other]);
  const head = await commit(other, 'g.txt', 'from elsewhere\n');
  await ok(['-C', other, 'push', '-q', 'origin', 'main']);
  await ok(['-C', clone, 'fetch', '-q', 'origin']);
  assert.equal((await ok(['-C', clone, 'rev-parse', 'origin/main'])).stdout.trim(), head);
});

test('without a token, or with a wrong one, nothing reaches the remote', async () => {
  const seen = remote.seen.length;
  const none = await git(['clone', '-q', gatewayRepo(null), join(work, 'no-token')]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /could not read Username|Authentication failed|terminal prompts disabled/);
  const wrong = await git(['clone', '-q', gatewayRepo('not-a-warden-token'), join(work, 'wrong-token')]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /Authentication failed/);
  assert.equal(remote.seen.length, seen);
});

test('the dumb protocol and other paths under /git/ are refused', async () => {
  const auth = { authorization: `Basic ${Buffer.from(`me:${token}`).toString('base64')}` };
  for (const path of ['/git/repos/app.git/info/refs', '/git/repos/app.git/HEAD', '/git/repos/app.git/objects/info/packs', '/git/repos/app.git/config']) {
    const r = await fetch(`${t.httpUrl}${path}`, { headers: auth });
    assert.equal(r.status, 404, path);
  }
  const noAuth = await fetch(`${t.httpUrl}/git/repos/app.git/info/refs?service=git-upload-pack`);
  assert.equal(noAuth.status, 401);
  assert.equal(noAuth.headers.get('www-authenticate'), 'Basic realm="Warden"');
});

test('protocol v0 clients clone too; the advertisement is recorded with its refs', async () => {
  await ok(['-c', 'protocol.version=0', 'clone', '-q', gatewayRepo(), join(work, 'v0')]);
  const results = await resultsOf(t, 'git-dev');
  const cmds = await commandsOf(t, 'git-dev');
  const ad = cmds.findLast((e) => e.data.text === 'advertise app.git (git-upload-pack)')!;
  const rows = results.find((e) => e.data.commandId === ad.data.commandId)!.data.rows as string[][];
  assert.ok(rows.some(([ref, id]) => ref === 'refs/heads/main' && id === remote.refOf('app', 'refs/heads/main')), JSON.stringify(rows));
});

test('push options are part of the judged command', async () => {
  await commit(clone, 'o.txt', 'opts\n');
  await ok(['-C', clone, 'pull', '-q', '--rebase', 'origin', 'main']);
  await ok(['-C', clone, 'push', '-q', '-o', 'ci.skip', 'origin', 'HEAD:refs/heads/main']);
  const cmd = (await commandsOf(t, 'git-dev')).findLast((e) => String(e.data.text).startsWith('push '))!;
  assert.match(String(cmd.data.text), /; options: ci\.skip$/);
});

test('`warden git-credential` gives git the token for the gateway only', async () => {
  const helper = `!${process.execPath} ${join(process.cwd(), 'bin/warden.js')} git-credential`;
  const dir = join(work, 'helper-clone');
  await ok(['-c', `credential.helper=${helper}`, 'clone', '-q', gatewayRepo(null), dir], { env: { WARDEN_TOKEN: token, WARDEN_GATEWAY: t.httpUrl } });
  assert.equal(readFileSync(join(dir, 'README'), 'utf8'), 'hello\n');
  // for another host the helper says nothing (git then has no credential)
  const elsewhere = await git(['-c', `credential.helper=${helper}`, 'clone', '-q', gatewayRepo(null), join(work, 'helper-2')], { env: { WARDEN_TOKEN: token, WARDEN_GATEWAY: 'http://gateway.example:8009' } });
  assert.notEqual(elsewhere.code, 0);
});

// -- hostile streams, sent raw with an ordinary token --

function post(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${t.httpUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`me:${token}`).toString('base64')}`, 'content-type': 'application/x-git-receive-pack-request', 'content-length': body.length, ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const pkt = (s: string) => Buffer.from(`${(Buffer.byteLength(s) + 4).toString(16).padStart(4, '0')}${s}`);
const ZERO = '0'.repeat(40);

test('forged push streams are refused before anything reaches the remote', async () => {
  const main = remote.refOf('app', 'refs/heads/main')!;
  const posts = receivePosts();
  const cases: [string, Buffer][] = [
    // a second update hidden after the command list's flush (where the pack should start)
    ['hidden after flush', Buffer.concat([pkt(`${ZERO} ${main} refs/heads/ok\0report-status\n`), Buffer.from('0000'), pkt(`${main} ${ZERO} refs/heads/main\n`), Buffer.from('0000')])],
    // a pkt length that lies (3 is not a length)
    ['length 3', Buffer.concat([Buffer.from('0003'), pkt(`${main} ${ZERO} refs/heads/main\n`), Buffer.from('0000')])],
    // a length longer than the body
    ['length past the end', Buffer.from(`00ff${main} ${ZERO} refs/heads/main\n`)],
    // one pkt holding two commands: the second is hidden in the first's ref name
    ['two in one', Buffer.concat([pkt(`${main} ${ZERO} refs/heads/x\n${main} ${ZERO} refs/heads/main\n`), Buffer.from('0000')])],
    // not hex
    ['not hex', Buffer.from('zzzz0000')],
  ];
  for (const [name, body] of cases) {
    const r = await post('/git/repos/app.git/git-receive-pack', body);
    assert.equal(r.status, 400, `${name}: ${r.body.toString()}`);
    assert.match(r.body.toString(), /warden: refused/);
  }
  assert.equal(receivePosts(), posts);
  assert.equal(remote.refOf('app', 'refs/heads/main'), main);
  const cmds = (await commandsOf(t, 'git-dev')).filter((e) => String(e.data.text).endsWith('(unreadable)'));
  assert.ok(cmds.length >= cases.length);
  for (const c of cmds) assert.ok(c.data.opaque);
});

test('a gzip-encoded upload-pack request (as git sends large negotiations) is read and answered', async () => {
  const body = gzipSync(Buffer.concat([pkt('command=ls-refs\n'), Buffer.from('0001'), pkt('ref-prefix refs/heads/\n'), Buffer.from('0000')]));
  const r = await post('/git/repos/app.git/git-upload-pack', body, { 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip', 'git-protocol': 'version=2' });
  assert.equal(r.status, 200);
  assert.match(r.body.toString(), /refs\/heads\/main/);
  const cmd = (await commandsOf(t, 'git-dev')).findLast((e) => String(e.data.text).startsWith('ls-refs '))!;
  assert.equal(cmd.data.text, 'ls-refs app.git refs/heads/');
  // a gzip body that is not gzip is refused, not forwarded
  const bad = await post('/git/repos/app.git/git-upload-pack', Buffer.from('0000not gzip'), { 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' });
  assert.equal(bad.status, 400);
});

test('sessions list protocol git', async () => {
  const sessions = await t.gw.services.listSessions({ limit: 1000 });
  assert.ok(sessions.some((s) => s.protocol === 'git' && s.connection === 'repos'));
});
