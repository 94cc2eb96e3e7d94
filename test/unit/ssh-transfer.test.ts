// The parts of SFTP/SCP recording that need no server: the SFTP framer (however the bytes
// are chunked; lengths past the cap), field reading, a transfer's hash (in order, reordered,
// rewritten), file operations as rules see them, the scp exec line, the cap's config key,
// and how `warden sessions show` prints a transfer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { FX, packet, SftpFramer, SftpMalformed, SftpReader } from '../../src/protocols/ssh/sftp-codec.ts';
import { ReorderBudget, Transfer } from '../../src/protocols/ssh/transfer.ts';
import { scpRequest } from '../../src/protocols/ssh/scp.ts';
import { absolutePath } from '../../src/protocols/ssh/remote-path.ts';
import { classifyFileOps, classifySsh } from '../../src/policy/ssh-commands.ts';
import { compilePolicy } from '../../src/policy/policy.ts';
import { rulesSchema } from '../../src/policy/rule-schema.ts';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { renderReplay } from '../../src/cli/render.ts';
import type { Session } from '../../src/session/session.ts';
import type { ResultSummary } from '../../src/session/types.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('the SFTP framer cuts whole packets however the bytes come: split byte by byte, or many in one chunk', () => {
  const pkts = [packet(FX.OPEN, 1, '/tmp/a', 0x1a, Buffer.alloc(4)), packet(FX.WRITE, 2, Buffer.from('h'), 0n, randomBytes(70_000)), packet(FX.CLOSE, 3, Buffer.from('h'))];
  const all = Buffer.concat(pkts);
  const one = new SftpFramer();
  assert.deepEqual(one.push(all), pkts);
  const bytewise = new SftpFramer();
  const got: Buffer[] = [];
  for (let i = 0; i < all.length; i++) got.push(...bytewise.push(all.subarray(i, i + 1)));
  assert.deepEqual(got, pkts);
  const r = new SftpReader(got[1]!);
  assert.equal(r.type, FX.WRITE);
  assert.equal(r.u32(), 2);
  assert.equal(r.bytes().toString(), 'h');
  assert.equal(r.u64(), 0);
  assert.equal(r.bytes().length, 70_000);
});

test('a length past the cap or of zero is refused before anything is buffered; a field past its packet, or a NUL in a path, too', () => {
  const huge = Buffer.from([0xff, 0xff, 0xff, 0xf0, FX.WRITE]);
  assert.throws(() => new SftpFramer().push(huge), SftpMalformed);
  assert.throws(() => new SftpFramer().push(Buffer.from([0, 0, 0, 0])), /length 0/);
  const short = packet(FX.OPEN, 1, 'abc', 0);
  short.writeUInt32BE(999, 9);
  const r = new SftpReader(short);
  r.u32();
  assert.throws(() => r.path(), /ends inside a field/);
  const nul = new SftpReader(packet(FX.REMOVE, 1, Buffer.from('/tmp/x\0/../../etc/passwd')));
  nul.u32();
  assert.throws(() => nul.path(), /NUL/);
});

function recorder() {
  const results: ResultSummary[] = [];
  return { session: { result: (_id: string, s: ResultSummary) => results.push(s) } as unknown as Session, results };
}

test('a transfer hashes bytes at sequential offsets, waits for a gap to fill, and says unknown rather than wrong', () => {
  const data = randomBytes(100_000);
  const { session, results } = recorder();
  const inOrder = new Transfer(session, 'c:1', '/f', 'upload', 1 << 30);
  for (let o = 0; o < data.length; o += 32768) inOrder.add(o, data.subarray(o, o + 32768));
  assert.equal(inOrder.facts.sha256, sha(data));
  // pipelined replies a little out of order
  const budget = new ReorderBudget(40_000);
  const reordered = new Transfer(session, 'c:2', '/f', 'download', 1 << 30, budget);
  reordered.add(32768, data.subarray(32768, 65536));
  assert.equal(budget.left, 40_000 - 32768);
  reordered.add(0, data.subarray(0, 32768));
  reordered.add(65536, data.subarray(65536));
  assert.equal(reordered.facts.sha256, sha(data));
  assert.equal(budget.left, 40_000);
  // the budget is the channel's: a chunk past what is left makes the hash unknown, not memory grow
  const other = new Transfer(session, 'c:6', '/g', 'download', 1 << 30, budget);
  other.add(32768, data.subarray(32768, 65536));
  const third = new Transfer(session, 'c:7', '/h', 'download', 1 << 30, budget);
  third.add(32768, data.subarray(32768, 65536));
  assert.equal(third.facts.sha256, null);
  other.finish();
  assert.equal(budget.left, 40_000, 'a finished transfer gives its held bytes back');
  // bytes written again over earlier ones: the content is not the bytes seen
  const rewritten = new Transfer(session, 'c:3', '/f', 'upload', 1 << 30);
  rewritten.add(0, data.subarray(0, 10));
  rewritten.add(5, data.subarray(5, 20));
  assert.equal(rewritten.facts.sha256, null);
  // a gap never filled (a resumed upload)
  const resumed = new Transfer(session, 'c:4', '/f', 'upload', 1 << 30);
  resumed.add(1000, data.subarray(1000, 2000));
  resumed.finish();
  assert.equal(results.at(-1)!.transfer!.sha256, null);
  assert.equal(results.at(-1)!.transfer!.bytes, 1000);
  const capped = new Transfer(session, 'c:5', '/f', 'upload', 100);
  assert.equal(capped.exceeds(90, 10), false);
  assert.equal(capped.exceeds(90, 11), true);
  capped.cap();
  capped.finish();
  assert.equal(results.at(-1)!.transfer!.status, 'capped');
  assert.match(results.at(-1)!.error!.message, /fileTransfers\.maxBytes/);
});

test('file operations are judged like commands: get and ls read, the rest write; `commands` globs meet them', () => {
  assert.equal(classifyFileOps([['get', '/etc/hosts']]).statements[0]!.category, 'read');
  assert.equal(classifyFileOps([['ls', '/etc']]).statements[0]!.category, 'read');
  for (const op of ['put', 'rm', 'rename', 'mkdir', 'rmdir', 'setstat', 'symlink', 'link']) assert.equal(classifyFileOps([[op, '/x']]).statements[0]!.category, 'write', op);
  const policy = compilePolicy(rulesSchema.parse([
    { name: 'etc', match: { types: ['ssh'], categories: ['write'], commands: ['* /etc/*'] }, action: 'block' },
    { name: 'reads', match: { types: ['ssh'], categories: ['read'] }, action: 'allow' },
    { name: 'rest', match: { types: ['ssh'] }, action: 'review' },
  ]));
  const identity = { kind: 'token', subject: 's', name: 'n', groups: [] } as never;
  const connection = { name: 'box', type: 'ssh' };
  const decide = (c: ReturnType<typeof classifyFileOps>, text: string) => policy.decide({ identity, connection, command: { text }, classification: c }).action;
  assert.equal(decide(classifyFileOps([['rename', '/tmp/a', '/etc/a']]), 'rename /tmp/a /etc/a'), 'block');
  assert.equal(decide(classifyFileOps([['put', '/etc/a']]), 'put /etc/a'), 'block');
  assert.equal(decide(classifyFileOps([['get', '/etc/a']]), 'get /etc/a'), 'allow');
  // one statement per path: an allow rule must meet each, so a glob cannot span from one path into the other
  const srv = compilePolicy(rulesSchema.parse([{ name: 'srv', match: { types: ['ssh'], commands: ['rename /srv/*'] }, action: 'allow' }, { name: 'rest', match: { types: ['ssh'] }, action: 'block' }]));
  const srvDecide = (ops: string[][]) => srv.decide({ identity, connection, command: { text: 'x' }, classification: classifyFileOps(ops) }).action;
  assert.equal(srvDecide([['rename', '/srv/a'], ['rename', '/srv/b']]), 'allow');
  assert.equal(srvDecide([['rename', '/srv/a'], ['rename', '/etc/passwd']]), 'block');
    // the same words as a shell line are a command that may write: cached apart
  assert.equal(decide(classifySsh('get /etc/a'), 'get /etc/a'), 'block');
  assert.equal(decide(classifyFileOps([['get', '/etc/a']]), 'get /etc/a'), 'allow');
  // paths are folded before they are judged
  assert.equal(absolutePath('/tmp/../etc//a/', '/'), '/etc/a');
  assert.equal(absolutePath('../../etc/a', '/home/u'), '/etc/a');
});

test('the scp end of an exec: its direction and paths; what it cannot be is refused, what the shell expands is opaque', () => {
  assert.deepEqual(scpRequest('scp -v -r -p -d -t -- /srv/in'), { sink: true, paths: ['/srv/in'] });
  assert.deepEqual(scpRequest("scp -f '/srv/a b' /srv/c"), { sink: false, paths: ['/srv/a b', '/srv/c'] });
  assert.equal(scpRequest('ls -t /x'), null);
  assert.match(String(scpRequest('scp -t /a /b')), /2 paths/);
  assert.match(String(scpRequest('scp -tS /a')), /option -S/);
  assert.match(String(scpRequest('scp -t -f /a')), /both/);
  assert.match(String(scpRequest('scp -t /a && rm -rf /')), /chained/);
  assert.match((scpRequest('scp -f /var/log/*.log') as { opaque: string }).opaque, /expanded by the target's shell/);
  assert.match((scpRequest('scp -f ~/x') as { opaque: string }).opaque, /expanded/);
});

test('fileTransfers.maxBytes defaults to 1 GiB; a bad value is named by its key', () => {
  const key = ssh2.utils.generateKeyPairSync('ed25519');
  const conn = (extra: Record<string, unknown> = {}) => ({ name: 'box', type: 'ssh', host: 'h', user: 'u', privateKey: key.private, hostKey: key.public, ...extra });
  const c = parseConfig({ connections: [conn()] }).connections[0]!;
  assert.equal(c.type === 'ssh' && c.fileTransfers.maxBytes, 1024 ** 3);
  try {
    parseConfig({ connections: [conn({ fileTransfers: { maxBytes: 0 } })] });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.match(e.problems.join('\n'), /connections\.0\.fileTransfers\.maxBytes/);
  }
});

test('`warden sessions show` prints a transfer as one line: direction, path, size, sha256, status', () => {
  const out = renderReplay({ id: 's1', connection: 'box', protocol: 'ssh', identityName: 'ann', clientAddr: '1.2.3.4', startedAt: 't0' }, [
    { seq: 1, ts: 't1', type: 'command', actor: 'ann', data: { commandId: 'c1', text: 'put /srv/app.tar', decision: 'allow', via: 'sftp' } },
    { seq: 2, ts: 't2', type: 'result', data: { commandId: 'c1', rowCount: 1, durationMs: 812, transfer: { path: '/srv/app.tar', direction: 'upload', bytes: 5 * 1024 * 1024, sha256: 'ab'.repeat(32), status: 'ok' } } },
    { seq: 3, ts: 't3', type: 'command', actor: 'ann', data: { commandId: 'c2', text: 'get /srv/big', decision: 'allow', via: 'sftp' } },
    { seq: 4, ts: 't4', type: 'result', data: { commandId: 'c2', rowCount: 1, durationMs: 9, error: { message: 'stopped at the cap' }, transfer: { path: '/srv/big', direction: 'download', bytes: 10, sha256: null, status: 'capped' } } },
  ]);
  assert.match(out, /-> upload \/srv\/app\.tar {2}5\.0 MiB \(5242880 bytes\) {2}sha256 (ab){32} {2}ok {2}\(812 ms\)/);
  assert.match(out, /-> download \/srv\/big {2}10 B {2}sha256 unknown .* capped: stopped at the cap/);
});
