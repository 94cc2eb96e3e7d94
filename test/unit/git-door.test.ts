// The git door's parts without a network: pkt-lines, the push request reader (what it refuses),
// the pack scanner on packs git itself writes (deltified commits included), the fast-forward
// walk, the routes and the caller's token, `type: git` config and the `git:` rule key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ByteQueue } from '../../src/protocols/git/byte-queue.ts';
import { scanPack } from '../../src/protocols/git/pack.ts';
import { GitProtocolError, readPush, refNameProblem } from '../../src/protocols/git/push-request.ts';
import { fastForward } from '../../src/protocols/git/ancestry.ts';
import { PktReader, PktError, pktLine } from '../../src/protocols/git/pkt-line.ts';
import { callerToken, routeOf } from '../../src/protocols/git/door.ts';
import { ReportStatusReader, refusePush } from '../../src/protocols/git/responses.ts';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { rulesSchema } from '../../src/policy/rule-schema.ts';
import { compilePolicy } from '../../src/policy/policy.ts';
import { classifyGit } from '../../src/policy/git-commands.ts';
import { gitEnv } from '../helpers/git-backend.ts';

const queue = (b: Buffer, chunk = 7) => {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += chunk) parts.push(b.subarray(i, i + chunk));
  return new ByteQueue(Readable.from(parts)[Symbol.asyncIterator]());
};
const A = 'a'.repeat(40), B = 'b'.repeat(40), Z = '0'.repeat(40);

/** a repository with `n` commits whose long, similar messages git stores as deltas; its pack */
function repoPack(n: number): { pack: Buffer; ids: string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-pack-'));
  const env = gitEnv(dir);
  const run = (...args: string[]) => execFileSync('git', ['-C', join(dir, 'r'), ...args], { env, encoding: 'utf8' });
  execFileSync('git', ['init', '-q', '-b', 'main', join(dir, 'r')], { env });
  const long = Array.from({ length: 2000 }, (_, i) => String(i)).join(' ');
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, 'r', 'f'), `${i}\n`);
    run('add', 'f');
    run('commit', '-qm', `${i} ${long}`);
  }
  const ids = run('rev-list', 'HEAD').trim().split('\n');
  const pack = execFileSync('git', ['-C', join(dir, 'r'), 'pack-objects', '--stdout', '--revs', '--delta-base-offset', '--window=50'], { env, input: 'HEAD\n' });
  return { pack, ids, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('pkt-lines: the specials, a split packet, and lengths that lie', () => {
  const r = new PktReader();
  r.push(Buffer.from('0000000100020009hel'));
  assert.deepEqual([r.next(), r.next(), r.next(), r.next()].map((p) => p?.kind ?? null), ['flush', 'delim', 'end', null]);
  r.push(Buffer.from('lo'));
  assert.equal((r.next() as { payload: Buffer }).payload.toString(), 'hello');
  for (const bad of ['0003', 'zzzz', 'fff5']) {
    const x = new PktReader();
    x.push(Buffer.from(`${bad}${'x'.repeat(10)}`));
    assert.throws(() => x.next(), PktError, bad);
  }
  assert.equal(pktLine('a\n').toString(), '0006a\n');
});

test('the pack scanner finds every commit by its own id, deltified ones too, whatever the chunking', async () => {
  const { pack, ids, cleanup } = repoPack(12);
  try {
    for (const chunk of [5, 4096, 1 << 20]) {
      const s = await scanPack(queue(pack, chunk));
      assert.equal(s.commits.size, 12);
      assert.equal(s.unresolved, 0);
      assert.deepEqual(new Set(s.commits.keys()), new Set(ids));
      assert.deepEqual(s.commits.get(ids[0]!), [ids[1]]);
    }
    // a flipped byte in an object's data or a cut pack is refused
    const bad = Buffer.from(pack);
    bad[40] ^= 0xff;
    await assert.rejects(scanPack(queue(bad)));
    await assert.rejects(scanPack(queue(pack.subarray(0, pack.length - 30))));
    await assert.rejects(scanPack(queue(Buffer.concat([pack, Buffer.from('extra')]))));
  } finally {
    cleanup();
  }
});

test('a push request: commands, capabilities, push options, the pack; what is refused', async () => {
  const { pack, ids, cleanup } = repoPack(2);
  try {
    const cmds = (...lines: string[]) => Buffer.concat(lines.map((l) => pktLine(l)));
    const ok = await readPush(queue(Buffer.concat([cmds(`${ids[1]} ${ids[0]} refs/heads/main\0report-status push-options side-band-64k\n`), Buffer.from('0000'), cmds('ci.skip\n'), Buffer.from('0000'), pack])));
    assert.deepEqual(ok.updates, [{ old: ids[1], new: ids[0], ref: 'refs/heads/main' }]);
    assert.deepEqual(ok.options, ['ci.skip']);
    assert.ok(ok.capabilities.includes('side-band-64k'));
    assert.equal(ok.pack?.commits.size, 2);
    const del = await readPush(queue(Buffer.concat([cmds(`${A} ${Z} refs/heads/x\0report-status\n`), Buffer.from('0000')])));
    assert.equal(del.pack, null);
    const refused: [string, Buffer][] = [
      ['an update without a pack', Buffer.concat([cmds(`${A} ${B} refs/heads/x\n`), Buffer.from('0000')])],
      ['the same ref twice', Buffer.concat([cmds(`${A} ${Z} refs/heads/x\n`, `${A} ${Z} refs/heads/x\n`), Buffer.from('0000')])],
      ['a shallow push', Buffer.concat([cmds(`shallow ${A}\n`, `${A} ${Z} refs/heads/x\n`), Buffer.from('0000')])],
      ['capabilities on a later line', Buffer.concat([cmds(`${A} ${Z} refs/heads/x\n`, `${A} ${Z} refs/heads/y\0report-status\n`), Buffer.from('0000')])],
      ['a ref outside refs/', Buffer.concat([cmds(`${A} ${Z} HEAD\n`), Buffer.from('0000')])],
      ['no flush', cmds(`${A} ${Z} refs/heads/x\n`)],
      ['sha256 ids', Buffer.concat([cmds(`${'a'.repeat(64)} ${'0'.repeat(64)} refs/heads/x\n`), Buffer.from('0000')])],
      ['a pack that is not one', Buffer.concat([cmds(`${A} ${B} refs/heads/x\n`), Buffer.from('0000'), Buffer.from('PACX0000000000000000')])],
    ];
    for (const [name, body] of refused) await assert.rejects(readPush(queue(body)), GitProtocolError, name);
  } finally {
    cleanup();
  }
});

test('ref names git would refuse are refused', () => {
  assert.equal(refNameProblem('refs/heads/feature/x'), null);
  for (const bad of ['refs/heads/a..b', 'refs/heads/a b', 'refs/heads/x\nrefs/heads/main', 'refs/heads/x.lock', 'refs/heads/.hidden', 'refs/heads/a@{1}', 'refs//x', 'refs/heads/x/', 'main']) {
    assert.ok(refNameProblem(bad), bad);
  }
});

test('fast-forward: proven by the pack, asked of the remote at the pack\'s edge, else a force push', async () => {
  const pack = { objects: 2, unresolved: 0, commits: new Map([['n2', ['n1']], ['n1', ['old']]]) };
  const never = async () => assert.fail('the remote is not asked');
  assert.deepEqual(await fastForward('old', 'n2', pack, never), { ff: true, by: 'pack' });
  const edge = new Map([['n2', ['n1']], ['n1', ['base']]]);
  let asked: string[] = [];
  const remote = (answer: boolean | string) => async (_old: string, from: string[]) => ((asked = from), answer);
  assert.deepEqual(await fastForward('old', 'n2', { ...pack, commits: edge }, remote(true)), { ff: true, by: 'remote' });
  assert.deepEqual(asked, ['base']);
  assert.equal((await fastForward('old', 'n2', { ...pack, commits: edge }, remote(false))).ff, false);
  assert.equal((await fastForward('old', 'n2', { ...pack, commits: edge }, remote('no v2'))).ff, false);
  assert.equal((await fastForward('old', 'n2', { ...pack, commits: edge }, async () => { throw new Error('down'); })).ff, false);
  // no pack: the new commit is the remote's already
  await fastForward('old', 'n9', null, remote(true));
  assert.deepEqual(asked, ['n9']);
});

test('routes: smart HTTP only, the repository path normalized; the token from Basic or Bearer', () => {
  assert.deepEqual(routeOf('GET', '/git/c/org/app.git/info/refs?service=git-upload-pack'), { repo: 'org/app.git', kind: 'advertise', service: 'git-upload-pack' });
  assert.deepEqual(routeOf('POST', '/git/c/org/./x/../app.git/git-receive-pack'), { repo: 'org/app.git', kind: 'rpc', service: 'git-receive-pack' });
  for (const [m, u] of [['GET', '/git/c/app.git/info/refs'], ['GET', '/git/c/app.git/info/refs?service=git-upload-archive'], ['GET', '/git/c/app.git/HEAD'], ['GET', '/git/c/app.git/git-upload-pack'], ['POST', '/git/c/app.git/info/refs?service=git-upload-pack'], ['GET', '/git/c/app.git/info/refs?service=git-upload-pack&x=1']] as const) {
    assert.equal(routeOf(m, u), null, `${m} ${u}`);
  }
  assert.throws(() => routeOf('GET', '/git/c/a%2fb/info/refs?service=git-upload-pack'));
  assert.equal(callerToken(`Basic ${Buffer.from('anyone:tok:en').toString('base64')}`), 'tok:en');
  assert.equal(callerToken('Bearer abc'), 'abc');
  assert.equal(callerToken(`Basic ${Buffer.from('user:').toString('base64')}`), null);
  assert.equal(callerToken(undefined), null);
});

test('report-status is read from side-band and plain answers; a refusal is one git reads', () => {
  const refusal = refusePush([{ ref: 'refs/heads/main', old: A, new: B }], ['report-status', 'side-band-64k'], 'warden: blocked: no');
  const r = new ReportStatusReader(true);
  r.push(refusal.subarray(0, 9));
  r.push(refusal.subarray(9));
  assert.equal(r.unpack, 'ok');
  assert.deepEqual(r.refs, [{ ref: 'refs/heads/main', ok: false, message: 'warden: blocked: no' }]);
  assert.match(r.messages, /warden: blocked: no/);
  const plain = new ReportStatusReader(false);
  plain.push(refusePush([{ ref: 'refs/tags/v1', old: A, new: B }], ['report-status'], 'held'));
  assert.deepEqual(plain.refs, [{ ref: 'refs/tags/v1', ok: false, message: 'held' }]);
});

test('a git connection: its defaults; a wrong credential is named by key and never echoed', () => {
  const c = parseConfig({ connections: [{ name: 'gh', type: 'git', url: 'https://github.com', credential: { username: 'x-access-token', password: 'ghp_secret' } }] }).connections[0]!;
  assert.equal(c.type, 'git');
  assert.equal(c.type === 'git' && c.maxPushBytes, 2 * 1024 * 1024 * 1024);
  try {
    parseConfig({ connections: [{ name: 'gh', type: 'git', url: 'ftp://x', credential: { username: 'u', password: '' } }, { name: 'g2', type: 'git', url: 'https://x', credential: { token: 'tok-secret' } }, { name: 'g3', type: 'git', url: 'https://bot:url-secret@x' }] });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /connections\.0\.url/);
    assert.match(e.message, /connections\.0\.credential/);
    assert.match(e.message, /connections\.1\.credential.*username \+ password/);
    assert.match(e.message, /connections\.2\.url.*no user or password/);
    assert.doesNotMatch(e.message, /tok-secret|url-secret/);
  }
});

test('git rules: force pushes, protected refs, deletions; reads are not pushes', () => {
  const policy = compilePolicy(rulesSchema.parse([
    { name: 'no-force', match: { types: ['git'], git: { force: true } }, action: 'block' },
    { name: 'protect', match: { git: { refs: ['refs/heads/main', 'refs/heads/release/*'] } }, action: 'review' },
    { name: 'no-tag-delete', match: { git: { refs: ['refs/tags/*'], delete: true } }, action: 'block' },
    { name: 'org-only', match: { git: { repos: ['secret/*'] } }, action: 'block' },
  ]));
  const conn = { name: 'repos', type: 'git' };
  const identity = { kind: 'user', subject: 'u', name: 'u', groups: [] } as never;
  const up = (ref: string, extra: Partial<{ force: boolean; create: boolean; delete: boolean }> = {}) => ({ ref, old: A, new: B, force: false, create: false, delete: false, ...extra });
  const decide = (repo: string, op: string, updates?: ReturnType<typeof up>[]) => {
    const text = `${op} ${repo} ${JSON.stringify(updates ?? [])}`;
    return policy.decide({ identity, connection: conn, command: { text }, classification: classifyGit(text, { op, repo, ...(updates ? { updates } : {}) }) });
  };
  assert.equal(decide('app.git', 'push', [up('refs/heads/dev')]).action, 'allow');
  assert.equal(decide('app.git', 'push', [up('refs/heads/dev', { force: true })]).rule, 'no-force');
  assert.equal(decide('app.git', 'push', [up('refs/heads/dev'), up('refs/heads/release/2.0')]).action, 'review');
  assert.equal(decide('app.git', 'push', [up('refs/heads/MAIN')]).action, 'review');
  assert.equal(decide('app.git', 'push', [up('refs/tags/v1', { delete: true })]).rule, 'no-tag-delete');
  assert.equal(decide('app.git', 'push', [up('refs/tags/v1', { create: true })]).action, 'allow');
  assert.equal(decide('app.git', 'fetch').action, 'allow');
  assert.equal(decide('secret/keys', 'fetch').rule, 'org-only');
  assert.equal(decide('secret/keys.git', 'fetch').rule, 'org-only');
  // without the door's facts: opaque, so onUnknown (review by default)
  assert.equal(policy.decide({ identity, connection: conn, command: { text: 'push x' }, classification: classifyGit('push x') }).action, 'review');
  assert.throws(() => rulesSchema.parse([{ name: 'x', match: { git: { refs: ['main'] } }, action: 'block' }]), /refs\/heads\/main/);
  assert.throws(() => rulesSchema.parse([{ name: 'x', match: { git: {} }, action: 'block' }]), /at least one/);
});
