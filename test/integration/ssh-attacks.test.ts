// What the SSH door refuses, checked on the target: bad and expired tokens, a connection the
// caller may not use, a target whose host key is not the pinned one (nothing is sent to it:
// its log shows no login), port forwarding both ways, a smuggled environment, subsystems other than SFTP, rsync.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { askpass, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { eventsOf } from '../helpers/records.ts';

const { Client } = ssh2;
let sshd: TestSshd;
let t: TestGateway;
let work: string;
let bystander: Server;
let bystanderHits = 0;

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'warden-ssh-attacks-'));
  // a host key that is not the target's
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'other')]);
  const conn = (name: string, hostKey: string) => ({ name, type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey, access: { groups: ['dev'] } });
  t = await startTestGateway({ connections: [conn('box', sshd.hostKey), conn('spoofed', readFileSync(join(work, 'other.pub'), 'utf8').trim()), localPostgres('db')] });
  bystander = createServer((s) => {
    bystanderHits++;
    s.end('reached\n');
  });
  await new Promise<void>((r) => bystander.listen(0, '127.0.0.1', r));
});
after(async () => {
  await t?.close();
  await sshd?.close();
  bystander?.close();
  rmSync(work, { recursive: true, force: true });
});

const ssh = (token: string, command: string, user = 'box') => run('ssh', [...sshArgs(t.sshPort), `${user}@127.0.0.1`, command], { env: askpass(work, token), timeoutMs: 30_000 });

/** an ssh2 client logged in to the door */
function connect(token: string, opts: { keyboard?: boolean; user?: string } = {}): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => resolve(c)).once('error', reject);
    if (opts.keyboard) c.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => token)));
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: opts.user ?? 'box', ...(opts.keyboard ? { tryKeyboard: true } : { password: token }), readyTimeout: 20_000 });
  });
}

function exec(c: InstanceType<typeof Client>, command: string, env?: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    c.exec(command, env ? { env } : {}, (e, ch) => {
      if (e) return reject(e);
      let out = '';
      let err = '';
      let code: number | null = null;
      ch.on('data', (b: Buffer) => (out += b)).stderr.on('data', (b: Buffer) => (err += b));
      ch.on('exit', (c2: number | null) => (code = c2));
      ch.on('close', () => resolve({ code, out, err }));
    });
  });
}

test('a bad or expired token is refused at login; nothing reaches the target', async () => {
  const before = sshd.log().length;
  const file = join(work, 'bad-token');
  let r = await ssh('wdn_not-a-token', `touch ${file}`);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /Permission denied/);
  const expired = await t.token(['dev'], 'expired', 1);
  await new Promise((r2) => setTimeout(r2, 20));
  r = await ssh(expired, `touch ${file}`);
  assert.equal(r.code, 255);
  assert.equal(existsSync(file), false);
  assert.equal(sshd.log().slice(before), '', 'the target saw no connection');
  assert.equal((await eventsOf(t, 'expired')).filter((e) => e.type === 'session.start').length, 0);
});

test('a connection the caller may not use, or that is not an ssh connection, is refused with its reason', async () => {
  const before = sshd.log().length;
  const file = join(work, 'not-allowed');
  const outsider = await t.token(['other'], 'outsider');
  let r = await ssh(outsider, `touch ${file}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /warden: outsider \(groups other\) is not allowed to use connection "box"/);
  const dev = await t.token(['dev'], 'wrong-door');
  r = await ssh(dev, `touch ${file}`, 'db');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no ssh connection named "db"/);
  assert.equal(existsSync(file), false);
  assert.equal(sshd.log().slice(before), '');
});

test('a target showing another host key than the pinned one is refused before any login', async () => {
  const before = sshd.log().length;
  const file = join(work, 'spoofed');
  const r = await ssh(await t.token(['dev'], 'spoof'), `touch ${file}`, 'spoofed');
  assert.equal(r.code, 255);
  assert.match(r.stderr, /host key \(SHA256:[^)]+\) is not the pinned hostKey of connection "spoofed"/);
  assert.equal(existsSync(file), false);
  const seen = sshd.log().slice(before);
  assert.match(seen, /Connection from 127\.0\.0\.1/, 'the key exchange happened');
  assert.doesNotMatch(seen, /publickey|Accepted|Failed|Postponed/, 'no authentication was attempted');
  const [res] = (await eventsOf(t, 'spoof')).filter((e) => e.type === 'result');
  assert.match(String((res!.data.error as { message: string }).message), /not the pinned hostKey/);
});

test('port forwarding both ways is refused and reaches nothing', async () => {
  const c = await connect(await t.token(['dev'], 'forwarder'));
  try {
    const port = (bystander.address() as { port: number }).port;
    await assert.rejects(new Promise((resolve, reject) => c.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (e, s) => (e ? reject(e) : resolve(s)))));
    await assert.rejects(new Promise((resolve, reject) => c.forwardIn('127.0.0.1', 0, (e, p) => (e ? reject(e) : resolve(p)))));
    assert.equal(bystanderHits, 0);
    // the session goes on
    const r = await exec(c, 'echo still-here');
    assert.equal(r.out, 'still-here\n');
  } finally {
    c.end();
  }
});

test('the caller\'s environment never reaches the target (the target would accept any)', async () => {
  const c = await connect(await t.token(['dev'], 'env-smuggler'));
  try {
    const r = await exec(c, 'echo "[$WARDEN_SMUGGLED][$LD_PRELOAD]"', { WARDEN_SMUGGLED: 'yes', LD_PRELOAD: '/tmp/evil.so' });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '[][]\n');
  } finally {
    c.end();
  }
});

test('a subsystem other than SFTP is refused with the session still usable; keyboard-interactive login works', async () => {
  const c = await connect(await t.token(['dev'], 'kbd'), { keyboard: true });
  try {
    await assert.rejects(new Promise((resolve, reject) => c.subsys('netconf', (e, s) => (e ? reject(e) : resolve(s)))));
    const r = await exec(c, 'echo via-keyboard-interactive');
    assert.equal(r.out, 'via-keyboard-interactive\n');
  } finally {
    c.end();
  }
});

test('rsync --server is refused with a clear message (scp and sftp: ssh-transfer.test.ts)', async () => {
  const token = await t.token(['dev'], 'copier');
  const r = await ssh(token, `rsync --server -e.LsfxCIvu . ${join(work, 'rs')}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /file transfer \(rsync\)/);
  assert.equal(existsSync(join(work, 'rs')), false);
});

test('the target dropping the gateway\'s connection ends that command; the next one logs in again', async () => {
  const c = await connect(await t.token(['dev'], 'dropper'));
  try {
    // the shell's parent is sshd's process of this connection: killing it drops the connection
    const dropped = await exec(c, 'kill -9 $PPID; sleep 5; echo not-reached');
    assert.doesNotMatch(dropped.out, /not-reached/);
    const r = await exec(c, 'echo back-again');
    assert.equal(r.out, 'back-again\n');
  } finally {
    c.end();
  }
});
