// File transfers through the SSH door with OpenSSH's own clients (`sftp -b`, `scp` in its
// default SFTP mode, legacy `scp -O`) to a private sshd, and a hostile caller's hand-made
// SFTP packets (ssh2's client). Ground truth: the file on the target (or its absence) and its
// sha256, the file the caller got, and what the record says of each transfer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join, relative } from 'node:path';
import ssh2 from 'ssh2';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { askpass, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { commandsOf, resultsOf } from '../helpers/records.ts';
import { FX, packet, SftpFramer, SftpReader, STATUS } from '../../src/protocols/ssh/sftp-codec.ts';

const { Client } = ssh2;
let sshd: TestSshd;
let t: TestGateway;
let work: string;
/** the target's side of the files (the same machine: the sshd runs as this user) */
let remote: string;
let local: string;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const CAP = 1 << 20;

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'warden-transfer-'));
  remote = join(work, 'remote');
  local = join(work, 'local');
  mkdirSync(join(remote, 'protected'), { recursive: true });
  mkdirSync(local);
  const box = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['dev'] }, ...extra });
  t = await startTestGateway({
    connections: [
      box('box'),
      box('small', { fileTransfers: { maxBytes: CAP } }),
      box('nosftp', { rules: [{ name: 'no-sftp', match: { commands: ['sftp'] }, action: 'block', message: 'no SFTP on this box' }] }),
    ],
    rules: [
      { name: 'protected', match: { types: ['ssh'], categories: ['write'], commands: ['* */protected/*', '* */protected'] }, action: 'block', message: 'protected/ is read-only' },
      { name: 'no-secrets', match: { types: ['ssh'], commands: ['get */secret*'] }, action: 'block', message: 'secrets stay on the box' },
      { name: 'held', match: { types: ['ssh'], commands: ['put */held-*'] }, action: 'review', review: { groups: ['approver'] } },
    ],
  });
});
after(async () => {
  await t?.close();
  await sshd?.close();
  rmSync(work, { recursive: true, force: true });
});

/** OpenSSH's options for the door; sftp and scp name the port -P */
const opts = () => sshArgs(t.sshPort).map((a) => (a === '-p' ? '-P' : a));

/** `sftp -b` with these batch lines; BatchMode is turned back off so the token can be asked */
async function sftp(token: string, lines: string[], user = 'box') {
  const batch = join(work, `batch-${Math.random().toString(36).slice(2)}`);
  writeFileSync(batch, lines.join('\n') + '\n');
  return run('sftp', ['-o', 'BatchMode=no', ...opts(), '-b', batch, `${user}@127.0.0.1`], { env: askpass(work, token), timeoutMs: 60_000 });
}

const scp = (token: string, args: string[]) => run('scp', ['-o', 'BatchMode=no', ...opts(), ...args], { env: askpass(work, token), timeoutMs: 60_000 });

/** the transfers recorded in an identity's sessions */
async function transfers(identity: string) {
  return (await resultsOf(t, identity)).map((r) => r.data.transfer as { path: string; direction: string; bytes: number; sha256: string | null; status: string } | undefined).filter((x) => x !== undefined);
}

test('sftp -b: an upload and a download of several MB arrive intact, each recorded with path, size and sha256', async () => {
  const token = await t.token(['dev'], 'sftp-ok');
  const big = randomBytes(5 * (1 << 20) + 123);
  writeFileSync(join(local, 'big.bin'), big);
  writeFileSync(join(remote, 'down.txt'), 'from the target\n');
  const r = await sftp(token, [
    `put ${join(local, 'big.bin')} ${join(remote, 'big.bin')}`,
    `get ${join(remote, 'big.bin')} ${join(local, 'big-back.bin')}`,
    `get ${join(remote, 'down.txt')} ${join(local, 'down.txt')}`,
    `ls ${remote}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha(readFileSync(join(remote, 'big.bin'))), sha(big), 'the target has the file, unchanged');
  assert.equal(sha(readFileSync(join(local, 'big-back.bin'))), sha(big), 'and gave it back unchanged');
  assert.equal(readFileSync(join(local, 'down.txt'), 'utf8'), 'from the target\n');
  const got = await transfers('sftp-ok');
  const up = got.find((x) => x.direction === 'upload')!;
  assert.deepEqual(up, { path: join(remote, 'big.bin'), direction: 'upload', bytes: big.length, sha256: sha(big), status: 'ok' });
  assert.deepEqual(got.find((x) => x.direction === 'download' && x.path === join(remote, 'big.bin')), { path: join(remote, 'big.bin'), direction: 'download', bytes: big.length, sha256: sha(big), status: 'ok' });
  const down = got.find((x) => x.direction === 'download' && x.path === join(remote, 'down.txt'))!;
  assert.deepEqual(down, { path: join(remote, 'down.txt'), direction: 'download', bytes: 16, sha256: sha(Buffer.from('from the target\n')), status: 'ok' });
  const cmds = await commandsOf(t, 'sftp-ok');
  const texts = cmds.map((c) => `${String(c.data.via)} ${String(c.data.text)} ${String(c.data.decision)}`);
  assert.ok(texts.includes('sftp (sftp) allow'), texts.join('\n'));
  assert.ok(texts.includes(`sftp put ${join(remote, 'big.bin')} allow`), texts.join('\n'));
  assert.ok(texts.includes(`sftp get ${join(remote, 'down.txt')} allow`), texts.join('\n'));
  assert.ok(texts.includes(`sftp ls ${remote} allow`), texts.join('\n'));
  // the file's bytes are nowhere in the record
  const results = JSON.stringify(await resultsOf(t, 'sftp-ok'));
  assert.doesNotMatch(results, /from the target/);
});

test('scp (SFTP mode): an upload and a download arrive intact, each recorded', async () => {
  const token = await t.token(['dev'], 'scp-sftp');
  const data = randomBytes(300_000);
  writeFileSync(join(local, 'scp-up.bin'), data);
  const up = await scp(token, [join(local, 'scp-up.bin'), `box@127.0.0.1:${join(remote, 'scp-up.bin')}`]);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(sha(readFileSync(join(remote, 'scp-up.bin'))), sha(data));
  const down = await scp(token, [`box@127.0.0.1:${join(remote, 'scp-up.bin')}`, join(local, 'scp-back.bin')]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(sha(readFileSync(join(local, 'scp-back.bin'))), sha(data));
  const got = await transfers('scp-sftp');
  assert.ok(got.some((x) => x.direction === 'upload' && x.path === join(remote, 'scp-up.bin') && x.sha256 === sha(data) && x.bytes === data.length), JSON.stringify(got));
  assert.ok(got.some((x) => x.direction === 'download' && x.path === join(remote, 'scp-up.bin') && x.sha256 === sha(data) && x.status === 'ok'), JSON.stringify(got));
});

test('a blocked upload never reaches the target; a held one names its review; a blocked download gives nothing', async () => {
  const token = await t.token(['dev'], 'sftp-block');
  writeFileSync(join(local, 'evil.txt'), 'overwrite\n');
  writeFileSync(join(remote, 'secret.txt'), 'the secret\n');
  const dest = join(remote, 'protected', 'evil.txt');
  const r = await sftp(token, [`put ${join(local, 'evil.txt')} ${dest}`]);
  assert.notEqual(r.code, 0);
  // OpenSSH's sftp shows a status's code only: the reason comes on the channel's stderr
  assert.match(r.stderr, /Permission denied/);
  assert.match(r.stderr, /warden: protected\/ is read-only/);
  assert.equal(existsSync(dest), false, 'nothing reached the target');
  // `..` does not walk around the rule
  const sneaky = await sftp(token, [`put ${join(local, 'evil.txt')} ${join(remote, 'x', '..', 'protected', 'evil.txt')}`]);
  assert.notEqual(sneaky.code, 0);
  assert.equal(existsSync(dest), false);
  const held = await sftp(token, [`put ${join(local, 'evil.txt')} ${join(remote, 'held-1.txt')}`]);
  assert.notEqual(held.code, 0);
  assert.match(held.stderr, /warden: held for review r[0-9a-f]{12}/);
  assert.equal(existsSync(join(remote, 'held-1.txt')), false);
  const get = await sftp(token, [`get ${join(remote, 'secret.txt')} ${join(local, 'secret.txt')}`]);
  assert.notEqual(get.code, 0);
  assert.match(get.stderr, /warden: secrets stay on the box/);
  assert.equal(existsSync(join(local, 'secret.txt')), false);
  const cmds = await commandsOf(t, 'sftp-block');
  const decided = (text: string) => cmds.filter((c) => c.data.text === text).map((c) => [c.data.decision, c.data.reason ?? null]);
  assert.deepEqual(decided(`put ${dest}`), [['block', 'protected/ is read-only'], ['block', 'protected/ is read-only']]);
  assert.deepEqual(decided(`get ${join(remote, 'secret.txt')}`), [['block', 'secrets stay on the box']]);
  const [review] = cmds.filter((c) => c.data.text === `put ${join(remote, 'held-1.txt')}`);
  assert.equal(review!.data.decision, 'review');
  assert.match(String(review!.data.reviewId), /^r[0-9a-f]{12}$/);
});

test('a rule about the word sftp refuses the subsystem whole, with its reason', async () => {
  const token = await t.token(['dev'], 'sftp-none');
  writeFileSync(join(local, 'n.txt'), 'n\n');
  const r = await sftp(token, [`put ${join(local, 'n.txt')} ${join(remote, 'n.txt')}`], 'nosftp');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /warden: no SFTP on this box/);
  assert.equal(existsSync(join(remote, 'n.txt')), false);
  const [cmd] = await commandsOf(t, 'sftp-none');
  assert.deepEqual([cmd!.data.text, cmd!.data.via, cmd!.data.decision], ['(sftp)', 'sftp', 'block']);
});

test('an exec of sftp-server itself (sftp -s) is the same SFTP, judged per file; with options it is refused', async () => {
  const token = await t.token(['dev'], 'sftp-exec');
  writeFileSync(join(local, 'via-exec.txt'), 'via exec\n');
  const dest = join(remote, 'protected', 'via-exec.txt');
  const batch = join(work, 'batch-exec');
  writeFileSync(batch, `put ${join(local, 'via-exec.txt')} ${dest}\nput ${join(local, 'via-exec.txt')} ${join(remote, 'via-exec.txt')}\n`);
  const r = await run('sftp', ['-o', 'BatchMode=no', ...opts(), '-s', '/usr/lib/openssh/sftp-server', '-b', batch, 'box@127.0.0.1'], { env: askpass(work, token), timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /warden: protected\/ is read-only/);
  assert.equal(existsSync(dest), false);
  writeFileSync(batch, `put ${join(local, 'via-exec.txt')} ${join(remote, 'via-exec.txt')}\n`);
  const ok = await run('sftp', ['-o', 'BatchMode=no', ...opts(), '-s', '/usr/lib/openssh/sftp-server', '-b', batch, 'box@127.0.0.1'], { env: askpass(work, token), timeoutMs: 60_000 });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(readFileSync(join(remote, 'via-exec.txt'), 'utf8'), 'via exec\n');
  assert.ok((await transfers('sftp-exec')).some((x) => x.path === join(remote, 'via-exec.txt') && x.sha256 === sha(Buffer.from('via exec\n'))));
  const cmds = (await commandsOf(t, 'sftp-exec')).map((c) => c.data.text);
  assert.ok(cmds.includes('(sftp) /usr/lib/openssh/sftp-server'), JSON.stringify(cmds));
  // a start directory or read-only flag would change what paths mean: refused
  const opt = await run('ssh', [...sshArgs(t.sshPort), 'box@127.0.0.1', '/usr/lib/openssh/sftp-server -d /'], { env: askpass(work, token), timeoutMs: 30_000 });
  assert.equal(opt.code, 1);
  assert.match(opt.stderr, /sftp-server with options or other commands is not available/);
});

test('the size cap stops an upload and a download past it; each is recorded as capped', async () => {
  const token = await t.token(['dev'], 'sftp-cap');
  const data = randomBytes(3 * CAP);
  writeFileSync(join(local, 'too-big.bin'), data);
  writeFileSync(join(remote, 'big-remote.bin'), data);
  const r = await sftp(token, [`put ${join(local, 'too-big.bin')} ${join(remote, 'too-big.bin')}`], 'small');
  // OpenSSH's sftp shows a status's code, not its message: the reason is in the record
  assert.match(r.stderr, /Failure/);
  assert.notEqual(r.code, 0);
  const onTarget = existsSync(join(remote, 'too-big.bin')) ? statSync(join(remote, 'too-big.bin')).size : 0;
  assert.ok(onTarget <= CAP, `at most the cap reached the target (${onTarget})`);
  const d = await sftp(token, [`get ${join(remote, 'big-remote.bin')} ${join(local, 'big-remote.bin')}`], 'small');
  assert.match(d.stderr, /Failure/);
  assert.notEqual(d.code, 0);
  const gotLocal = existsSync(join(local, 'big-remote.bin')) ? statSync(join(local, 'big-remote.bin')).size : 0;
  assert.ok(gotLocal <= CAP, `at most the cap reached the caller (${gotLocal})`);
  const got = await transfers('sftp-cap');
  assert.deepEqual(got.map((x) => [x.direction, x.status]).sort(), [['download', 'capped'], ['upload', 'capped']]);
  assert.ok(got.every((x) => x.bytes <= CAP));
  const errors = (await resultsOf(t, 'sftp-cap')).filter((x) => x.data.transfer).map((x) => (x.data.error as { message: string }).message);
  assert.ok(errors.every((m) => /size cap of 1048576 bytes \(fileTransfers.maxBytes/.test(m)), errors.join('\n'));
});

/** an ssh2 client at the door with a raw sftp channel, and a reader of the target's packets */
async function rawSftp(token: string) {
  const c = new Client();
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve()).once('error', reject);
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: 'box', password: token, readyTimeout: 20_000 });
  });
  const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.subsys('sftp', (e, s) => (e ? reject(e) : resolve(s))));
  const framer = new SftpFramer();
  const packets: Buffer[] = [];
  let stderr = '';
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  ch.on('data', (b: Buffer) => {
    packets.push(...framer.push(b));
    wake();
  });
  ch.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  ch.on('close', () => {
    closed = true;
    wake();
  });
  const next = async (): Promise<SftpReader> => {
    while (!packets.length) {
      if (closed) throw new Error(`the channel closed: ${stderr}`);
      await new Promise<void>((r) => waiters.push(r));
    }
    return new SftpReader(packets.shift()!);
  };
  ch.write(packet(FX.INIT, 3));
  assert.equal((await next()).type, FX.VERSION);
  return { c, ch, next, stderr: () => stderr, closed: () => closed, waitClosed: async () => { while (!closed) await new Promise<void>((r) => waiters.push(r)); } };
}

test('hand-made SFTP: a write on a handle never given out, a rename onto a protected path, an unknown extension are refused', async () => {
  const token = await t.token(['dev'], 'sftp-raw');
  const s = await rawSftp(token);
  try {
    s.ch.write(packet(FX.WRITE, 7, Buffer.from('forged-handle'), 0n, Buffer.from('data')));
    const w = await s.next();
    assert.equal(w.type, FX.STATUS);
    assert.equal(w.u32(), 7);
    assert.equal(w.u32(), STATUS.FAILURE);
    writeFileSync(join(remote, 'innocent.txt'), 'x');
    for (const [id, req] of [
      [8, packet(FX.RENAME, 8, join(remote, 'innocent.txt'), join(remote, 'protected', 'owned'))],
      [9, packet(FX.EXTENDED, 9, 'posix-rename@openssh.com', join(remote, 'innocent.txt'), join(remote, 'protected', 'owned'))],
      [10, packet(FX.SYMLINK, 10, '/etc/passwd', join(remote, 'protected', 'link'))],
      // a link outside pointing into protected/ by a relative target: read from the link's directory
      [14, packet(FX.SYMLINK, 14, '../remote/protected', join(remote, 'way-in'))],
    ] as const) {
      s.ch.write(req);
      const st = await s.next();
      assert.equal(st.type, FX.STATUS);
      assert.equal(st.u32(), id);
      assert.equal(st.u32(), STATUS.PERMISSION_DENIED);
      assert.match(st.bytes().toString(), /protected\/ is read-only/);
    }
    // a relative path is judged from the account's home directory, `..` folded
    const rel = relative(userInfo().homedir, join(remote, 'protected', 'owned'));
    s.ch.write(packet(FX.RENAME, 13, join(remote, 'innocent.txt'), rel));
    const relStatus = await s.next();
    assert.equal(relStatus.u32(), 13);
    assert.equal(relStatus.u32(), STATUS.PERMISSION_DENIED);
    assert.ok((await commandsOf(t, 'sftp-raw')).some((c) => c.data.text === `rename ${join(remote, 'innocent.txt')} ${join(remote, 'protected', 'owned')}` && c.data.decision === 'block'));
    assert.ok(existsSync(join(remote, 'innocent.txt')));
    assert.equal(existsSync(join(remote, 'protected', 'owned')), false);
    assert.equal(existsSync(join(remote, 'protected', 'link')), false);
    assert.equal(existsSync(join(remote, 'way-in')), false);
    s.ch.write(packet(FX.EXTENDED, 11, 'copy-data', Buffer.alloc(4), 0n, 0n, Buffer.alloc(4), 0n));
    const ext = await s.next();
    assert.equal(ext.u32(), 11);
    assert.equal(ext.u32(), STATUS.OP_UNSUPPORTED);
    // the channel still works: a read-only request passes
    s.ch.write(packet(FX.REALPATH, 12, '.'));
    const name = await s.next();
    assert.equal(name.type, FX.NAME);
  } finally {
    s.c.end();
  }
});

test('bytes written over earlier ones: the file is as the target keeps it, the record says its hash is unknown', async () => {
  const token = await t.token(['dev'], 'sftp-rewrite');
  const s = await rawSftp(token);
  try {
    s.ch.write(packet(FX.OPEN, 1, join(remote, 'rewritten.txt'), 0x1a, Buffer.alloc(4)));
    const h = await s.next();
    h.u32();
    const handle = h.bytes();
    s.ch.write(packet(FX.WRITE, 2, handle, 0n, Buffer.from('hello')));
    s.ch.write(packet(FX.WRITE, 3, handle, 2n, Buffer.from('XY')));
    s.ch.write(packet(FX.CLOSE, 4, handle));
    for (let i = 0; i < 3; i++) assert.equal((await s.next()).type, FX.STATUS);
  } finally {
    s.c.end();
  }
  assert.equal(readFileSync(join(remote, 'rewritten.txt'), 'utf8'), 'heXYo');
  assert.deepEqual(await transfers('sftp-rewrite'), [{ path: join(remote, 'rewritten.txt'), direction: 'upload', bytes: 7, sha256: null, status: 'ok' }]);
});

test('a token revoked during an SFTP session: the next operation is refused and the channel closes, open files recorded as incomplete', async () => {
  const token = await t.token(['dev'], 'sftp-revoked');
  const s = await rawSftp(token);
  try {
    s.ch.write(packet(FX.OPEN, 1, join(remote, 'half.bin'), 0x1a, Buffer.alloc(4)));
    const h = await s.next();
    assert.equal(h.type, FX.HANDLE);
    h.u32();
    const handle = h.bytes();
    s.ch.write(packet(FX.WRITE, 2, handle, 0n, Buffer.from('first part')));
    assert.equal((await s.next()).type, FX.STATUS);
    await t.gw.services.revokeToken('sftp-revoked', 'test');
    s.ch.write(packet(FX.MKDIR, 3, join(remote, 'after-revoke'), Buffer.alloc(4)));
    const st = await s.next();
    st.u32();
    assert.equal(st.u32(), STATUS.PERMISSION_DENIED);
    assert.match(st.bytes().toString(), /revoked/);
    await s.waitClosed();
    assert.equal(existsSync(join(remote, 'after-revoke')), false);
  } finally {
    s.c.end();
  }
  // the open file is recorded as the gateway's side of the channel closes
  let got = await transfers('sftp-revoked');
  for (let i = 0; i < 200 && !got.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    got = await transfers('sftp-revoked');
  }
  const [half] = got;
  assert.deepEqual(half, { path: join(remote, 'half.bin'), direction: 'upload', bytes: 10, sha256: sha(Buffer.from('first part')), status: 'incomplete' });
});

test('hand-made SFTP: a huge length or a packet cut short closes that channel with a reason; the gateway goes on', async () => {
  const token = await t.token(['dev'], 'sftp-huge');
  const s = await rawSftp(token);
  const head = Buffer.alloc(9);
  head.writeUInt32BE(0xfffffff0, 0);
  head[4] = FX.WRITE;
  s.ch.write(head);
  await s.waitClosed();
  assert.match(s.stderr(), /over the \d+-byte limit/);
  s.c.end();
  // a field running past its packet's end
  const s2 = await rawSftp(token);
  const bad = packet(FX.OPEN, 5, Buffer.alloc(0), 0);
  bad.writeUInt32BE(5000, 9); // the path claims 5000 bytes in a packet that has 8
  s2.ch.write(bad);
  await s2.waitClosed();
  assert.match(s2.stderr(), /ends inside a field/);
  s2.c.end();
  // the next caller works
  writeFileSync(join(local, 'after.txt'), 'still fine\n');
  const r = await sftp(token, [`put ${join(local, 'after.txt')} ${join(remote, 'after.txt')}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(remote, 'after.txt'), 'utf8'), 'still fine\n');
  const sftpResults = (await resultsOf(t, 'sftp-huge')).filter((x) => (x.data.error as { message?: string } | undefined)?.message?.includes('SFTP channel was closed'));
  assert.equal(sftpResults.length, 2);
});

test('scp -O (legacy protocol): an upload of several MB, a directory and a download arrive intact, each file recorded', async () => {
  const token = await t.token(['dev'], 'scp-legacy');
  const big = randomBytes(4 * (1 << 20) + 7);
  writeFileSync(join(local, 'legacy.bin'), big);
  const r = await scp(token, ['-O', join(local, 'legacy.bin'), `box@127.0.0.1:${join(remote, 'legacy.bin')}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha(readFileSync(join(remote, 'legacy.bin'))), sha(big));
  // into a directory, recursively
  mkdirSync(join(local, 'tree', 'sub'), { recursive: true });
  writeFileSync(join(local, 'tree', 'a.txt'), 'aaa\n');
  writeFileSync(join(local, 'tree', 'sub', 'b.txt'), 'b-file-content\n');
  mkdirSync(join(remote, 'into'));
  const tree = await scp(token, ['-O', '-r', join(local, 'tree'), `box@127.0.0.1:${join(remote, 'into')}`]);
  assert.equal(tree.code, 0, tree.stderr);
  assert.equal(readFileSync(join(remote, 'into', 'tree', 'sub', 'b.txt'), 'utf8'), 'b-file-content\n');
  const down = await scp(token, ['-O', `box@127.0.0.1:${join(remote, 'legacy.bin')}`, join(local, 'legacy-back.bin')]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(sha(readFileSync(join(local, 'legacy-back.bin'))), sha(big));
  const got = await transfers('scp-legacy');
  const facts = (p: string, dir: string) => got.find((x) => x.path === p && x.direction === dir);
  assert.deepEqual(facts(join(remote, 'legacy.bin'), 'upload'), { path: join(remote, 'legacy.bin'), direction: 'upload', bytes: big.length, sha256: sha(big), status: 'ok' });
  assert.deepEqual(facts(join(remote, 'legacy.bin'), 'download'), { path: join(remote, 'legacy.bin'), direction: 'download', bytes: big.length, sha256: sha(big), status: 'ok' });
  assert.equal(facts(join(remote, 'into', 'tree', 'sub', 'b.txt'), 'upload')?.sha256, sha(Buffer.from('b-file-content\n')));
  const texts = (await commandsOf(t, 'scp-legacy')).map((c) => `${String(c.data.via)} ${String(c.data.text)}`);
  assert.ok(texts.includes(`scp mkdir ${join(remote, 'into', 'tree', 'sub')}`), texts.join('\n'));
  assert.ok(texts.some((x) => /^scp scp .*-t/.test(x)), texts.join('\n'));
  // the bytes are not in the record
  assert.doesNotMatch(JSON.stringify(await resultsOf(t, 'scp-legacy')), /b-file-content/);
});

test('scp -O: a blocked file is skipped and never reaches the target, a blocked download never reaches the caller, the cap refuses a file too large', async () => {
  const token = await t.token(['dev'], 'scp-legacy-block');
  mkdirSync(join(local, 'mixed', 'protected'), { recursive: true });
  writeFileSync(join(local, 'mixed', 'ok.txt'), 'fine\n');
  writeFileSync(join(local, 'mixed', 'protected', 'evil.txt'), 'evil\n');
  mkdirSync(join(remote, 'dest'));
  const r = await scp(token, ['-O', '-r', join(local, 'mixed'), `box@127.0.0.1:${join(remote, 'dest')}`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /warden: protected\/ is read-only/);
  assert.equal(readFileSync(join(remote, 'dest', 'mixed', 'ok.txt'), 'utf8'), 'fine\n', 'the allowed file went');
  assert.equal(existsSync(join(remote, 'dest', 'mixed', 'protected')), false, 'nothing of the blocked directory reached the target');
  // a download of a directory holding a secret: the rest arrives, the secret does not
  mkdirSync(join(remote, 'pub'));
  writeFileSync(join(remote, 'pub', 'readme.txt'), 'hello\n');
  writeFileSync(join(remote, 'pub', 'secret.key'), 'KEY\n');
  const d = await scp(token, ['-O', '-r', `box@127.0.0.1:${join(remote, 'pub')}`, join(local, 'pub-copy')]);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /warden: secrets stay on the box/);
  assert.equal(readFileSync(join(local, 'pub-copy', 'readme.txt'), 'utf8'), 'hello\n');
  assert.equal(existsSync(join(local, 'pub-copy', 'secret.key')), false);
  // the cap: refused before a byte moves
  writeFileSync(join(local, 'huge.bin'), randomBytes(2 * CAP));
  const c = await scp(token, ['-O', join(local, 'huge.bin'), `small@127.0.0.1:${join(remote, 'huge-legacy.bin')}`]);
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /size cap/);
  assert.equal(existsSync(join(remote, 'huge-legacy.bin')), false);
  const got = await transfers('scp-legacy-block');
  assert.ok(got.some((x) => x.path === join(remote, 'huge-legacy.bin') && x.status === 'capped' && x.bytes === 0), JSON.stringify(got));
  const blocked = (await commandsOf(t, 'scp-legacy-block')).filter((x) => x.data.decision === 'block').map((x) => x.data.text);
  assert.ok(blocked.includes(`mkdir ${join(remote, 'dest', 'mixed', 'protected')}`), JSON.stringify(blocked));
  assert.ok(blocked.includes(`get ${join(remote, 'pub', 'secret.key')}`), JSON.stringify(blocked));
});

test('hand-made scp: a name with a slash, or more bytes than announced, stops the transfer; nothing lands outside', async () => {
  const token = await t.token(['dev'], 'scp-raw');
  const c = new Client();
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve()).once('error', reject);
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: 'box', password: token, readyTimeout: 20_000 });
  });
  try {
    mkdirSync(join(remote, 'raw'));
    const attempt = (lines: Buffer) =>
      new Promise<{ code: number | null; err: string }>((resolve, reject) => {
        c.exec(`scp -t ${join(remote, 'raw')}`, (e, ch) => {
          if (e) return reject(e);
          let err = '';
          let code: number | null = null;
          ch.stderr.on('data', (b: Buffer) => (err += b.toString()));
          ch.once('data', () => ch.write(lines)); // the target's first ack, then the hostile lines
          ch.on('exit', (x: number | null) => (code = x));
          ch.on('close', () => resolve({ code, err }));
        });
      });
    const slash = await attempt(Buffer.from('C0644 4 ../escaped\nbad\n\0'));
    assert.match(slash.err, /warden: a malformed scp line/);
    assert.equal(existsSync(join(remote, 'escaped')), false);
    // 4 bytes announced, 4 sent, then what the target would read as its next line: a file it was never asked about
    const more = await attempt(Buffer.from('C0644 4 ok.txt\nokay\0zzC0644 4 sneaky.txt\nnope\0'));
    assert.match(more.err, /warden: a malformed scp line/);
    assert.equal(existsSync(join(remote, 'raw', 'sneaky.txt')), false);
    // an scp end chained with another command is refused whole
    const chained = await new Promise<string>((resolve, reject) =>
      c.exec(`scp -t ${join(remote, 'raw')}; touch ${join(remote, 'raw', 'chained')}`, (e, ch) => {
        if (e) return reject(e);
        let err = '';
        ch.stderr.on('data', (b: Buffer) => (err += b.toString()));
        ch.on('close', () => resolve(err));
        ch.resume();
      }),
    );
    assert.match(chained, /warden: an scp transfer chained with other commands is not available/);
    assert.equal(existsSync(join(remote, 'raw', 'chained')), false);
  } finally {
    c.end();
  }
});

test('`warden sessions show` prints each transfer; the audit chain verifies with transfers in it', async () => {
  const token = await t.token(['dev'], 'sftp-show');
  const data = Buffer.from('shown in the replay\n');
  writeFileSync(join(local, 'show.txt'), data);
  const r = await sftp(token, [`put ${join(local, 'show.txt')} ${join(remote, 'show.txt')}`]);
  assert.equal(r.code, 0, r.stderr);
  await t.gw.services.audit.flush();
  const id = (await t.gw.services.listSessions({ limit: 1000 })).find((x) => x.identityName === 'sftp-show')!.id;
  const bin = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
  const home = mkdtempSync(join(tmpdir(), 'warden-show-'));
  const show = await run(process.execPath, [bin, 'sessions', 'show', id, '--gateway', t.httpUrl], { env: { XDG_CONFIG_HOME: home, WARDEN_GATEWAY: '', WARDEN_TOKEN: t.adminToken }, timeoutMs: 120_000 });
  rmSync(home, { recursive: true, force: true });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`put ${join(remote, 'show.txt')}\\n\\s+-> upload ${join(remote, 'show.txt')} {2}${data.length} B {2}sha256 ${sha(data)} {2}ok`));
  const v = await fetch(`${t.httpUrl}/api/v1/audit/verify`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  const verdict = (await v.json()) as { ok: boolean; problem?: string };
  assert.equal(verdict.ok, true, verdict.problem);
});

test('hand-made SFTP: a packet cut into single bytes and packets sent together are read whole; a request id reused while open closes the channel', async () => {
  const token = await t.token(['dev'], 'sftp-chunks');
  const s = await rawSftp(token);
  try {
    const one = packet(FX.REALPATH, 21, '.');
    for (const byte of one) s.ch.write(Buffer.from([byte]));
    assert.equal((await s.next()).type, FX.NAME);
    writeFileSync(join(remote, 'chunks.txt'), 'chunky\n');
    s.ch.write(Buffer.concat([packet(FX.STAT, 22, join(remote, 'chunks.txt')), packet(FX.OPEN, 23, join(remote, 'chunks.txt'), 1, Buffer.alloc(4))]));
    assert.equal((await s.next()).type, FX.ATTRS);
    const h = await s.next();
    assert.equal(h.type, FX.HANDLE);
    h.u32();
    const handle = h.bytes();
    // two reads with one id: which reply answers which could not be told
    s.ch.write(Buffer.concat([packet(FX.READ, 24, handle, 0n, 100), packet(FX.READ, 24, handle, 0n, 100)]));
    await s.waitClosed();
    assert.match(s.stderr(), /request id 24 reused/);
  } finally {
    s.c.end();
  }
});
