// Port and agent forwarding through the SSH door with OpenSSH's own `ssh -N -L`, `ssh -N -R`
// and `ssh -A`, against a private sshd. Ground truth: TCP servers on this machine that count
// the connections and bytes they got (a refused forward must reach none), what a process on
// the target sees of the caller's agent, and the record of every forwarded connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, createServer, type Server } from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { freePort } from '../helpers/free-port.ts';
import { askpass, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { commandsOf, resultsOf } from '../helpers/records.ts';
import { bound, countingServer, exchange, socks, type Counted } from '../helpers/tcp-probes.ts';

const { Client } = ssh2;

let sshd: TestSshd;
let t: TestGateway;
let work: string;
let echo: Counted;
let forbidden: Counted;
let held: Counted;
/** writes BLAST bytes to whoever connects, as fast as the connection takes them */
let blaster: { port: number; written: number; server: Server };
const BLAST = 96 << 20;
let remotePort: number;
let agentSock: string;
let agentProc: ChildProcess;
const children: ChildProcess[] = [];

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'warden-ssh-fwd-'));
  [echo, forbidden, held] = await Promise.all([countingServer(true), countingServer(true), countingServer(true)]);
  remotePort = await freePort();
  blaster = { port: 0, written: 0, server: createServer((sock) => {
    const chunk = Buffer.alloc(64 << 10, 120);
    const pump = () => {
      while (blaster.written < BLAST) {
        blaster.written += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
      sock.end();
    };
    sock.on('error', () => {});
    pump();
  }) };
  await new Promise<void>((r) => blaster.server.listen(0, '127.0.0.1', r));
  blaster.port = (blaster.server.address() as { port: number }).port;
  const conn = (name: string, rules: unknown[] = []) => ({
    name, type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['dev'] }, masking: { enabled: false }, rules,
  });
  t = await startTestGateway({
    connections: [
      // no forwarding rule: an allow-everything rule does not allow forwarding
      conn('box', [{ name: 'anything', match: {}, action: 'allow' }]),
      conn('fwd', [
        { name: 'held-port', match: { forwarding: { local: [`127.0.0.1:${held.port}`] } }, action: 'review', review: { groups: ['approver'] } },
        { name: 'tunnels', match: { types: ['ssh'], forwarding: { local: [`127.0.0.1:${echo.port}`, `127.0.0.1:${held.port}`, '127.0.0.1:5432', `127.0.0.1:${blaster.port}`], remote: [`localhost:${remotePort}`], agent: true } }, action: 'allow' },
      ]),
    ],
  });
  // the caller's own agent, holding one key
  agentSock = join(work, 'agent.sock');
  agentProc = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if ((await run('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: agentSock } })).code !== 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'caller-agent-key', '-f', join(work, 'agent_key')]);
  execFileSync('ssh-add', [join(work, 'agent_key')], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, stdio: 'ignore' });
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  agentProc?.kill('SIGTERM');
  await t?.close();
  await sshd?.close();
  for (const s of [echo, forbidden, held, blaster]) s?.server.close();
  rmSync(work, { recursive: true, force: true });
});

async function until<T>(what: string, f: () => Promise<T | undefined | false>, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** `ssh -N <forward args> <user>@gateway` in the background, until it listens (-L) or exits */
async function tunnel(token: string, user: string, args: string[], listens: number): Promise<{ child: ChildProcess; stderr: () => string; exited: Promise<number | null> }> {
  // at INFO, ssh prints why a channel was refused
  const child = spawn('ssh', [...sshArgs(t.sshPort, ['-N', '-o', 'ExitOnForwardFailure=yes', ...args]).map((a) => (a === 'LogLevel=ERROR' ? 'LogLevel=INFO' : a)), `${user}@127.0.0.1`], { env: { ...process.env, ...askpass(work, token) }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  await until(`ssh ${args.join(' ')} to listen on ${listens} (${err})`, async () => gone || (await bound(listens)));
  return { child, stderr: () => err, exited };
}

async function stop(c: { child: ChildProcess; exited: Promise<number | null> }): Promise<void> {
  if (c.child.exitCode === null) c.child.kill('SIGTERM');
  await c.exited;
}

async function forwardRecord(identity: string, text: string) {
  const cmd = await until(`the command "${text}"`, async () => (await commandsOf(t, identity)).find((e) => e.data.text === text));
  const res = await until(`the result of "${text}"`, async () => (await resultsOf(t, identity)).find((e) => e.data.commandId === cmd.data.commandId));
  return { cmd, res };
}

test('ssh -L without a rule: the channel is refused, nothing reaches the destination, the refusal is recorded', async () => {
  const token = await t.token(['dev'], 'fwd-none');
  const lport = await freePort();
  const tun = await tunnel(token, 'box', ['-L', `127.0.0.1:${lport}:127.0.0.1:${echo.port}`], lport);
  const before = echo.connections;
  const back = await exchange(lport, Buffer.from('hello\n'));
  await stop(tun);
  assert.equal(back.length, 0, 'no byte came back');
  assert.equal(echo.connections, before, 'the destination got no connection');
  assert.match(tun.stderr(), /open failed: administratively prohibited: warden: forwarding \(local 127\.0\.0\.1:\d+\) is off: no rule allows it/);
  const cmd = await until('the refusal', async () => (await commandsOf(t, 'fwd-none')).find((e) => e.data.text === `forward local 127.0.0.1:${echo.port}`));
  assert.equal(cmd.data.decision, 'block');
  assert.equal(cmd.data.via, 'direct-tcpip');
  assert.match(String(cmd.data.reason), /forwarding \(local 127\.0\.0\.1:\d+\) is off: no rule allows it/);
});

test('ssh -L with a rule: bytes go end to end from the target; the record holds destination, bytes and duration', async () => {
  const token = await t.token(['dev'], 'fwd-local');
  const lport = await freePort();
  const tun = await tunnel(token, 'fwd', ['-L', `127.0.0.1:${lport}:127.0.0.1:${echo.port}`], lport);
  const before = { connections: echo.connections, bytes: echo.bytes };
  const data = randomBytes(300_000);
  const back = await exchange(lport, data);
  assert.ok(back.equals(data), `the echo came back whole (${back.length} of ${data.length} bytes)`);
  assert.equal(echo.connections, before.connections + 1);
  assert.equal(echo.bytes - before.bytes, data.length);
  const { cmd, res } = await forwardRecord('fwd-local', `forward local 127.0.0.1:${echo.port}`);
  await stop(tun);
  assert.equal(cmd.data.decision, 'allow');
  assert.equal(cmd.data.rule, 'tunnels');
  assert.deepEqual(res.data.rows, [[`127.0.0.1:${echo.port}`, String(data.length), String(data.length)]]);
  assert.equal(res.data.tag, 'closed');
  assert.equal(typeof res.data.durationMs, 'number');
  // recorded before a byte went through
  assert.ok(cmd.seq < res.seq);
});

test('ssh -L to a destination outside the rule\'s list, or one held for review, is refused and reaches nothing', async () => {
  const token = await t.token(['dev'], 'fwd-other');
  const [l1, l2] = [await freePort(), await freePort()];
  const tun = await tunnel(token, 'fwd', ['-L', `127.0.0.1:${l1}:127.0.0.1:${forbidden.port}`, '-L', `127.0.0.1:${l2}:127.0.0.1:${held.port}`], l1);
  await until('both listeners', () => bound(l2));
  const back = await exchange(l1, Buffer.from('secret'));
  const back2 = await exchange(l2, Buffer.from('secret'));
  await stop(tun);
  assert.match(tun.stderr(), /administratively prohibited: warden: held for review r[0-9a-f]{12}/);
  assert.equal(back.length + back2.length, 0);
  assert.equal(forbidden.connections, 0);
  assert.equal(held.connections, 0);
  const cmds = await commandsOf(t, 'fwd-other');
  const other = cmds.find((e) => e.data.text === `forward local 127.0.0.1:${forbidden.port}`)!;
  assert.equal(other.data.decision, 'block');
  const review = cmds.find((e) => e.data.text === `forward local 127.0.0.1:${held.port}`)!;
  assert.equal(review.data.decision, 'review');
  assert.match(String(review.data.reviewId), /^r[0-9a-f]{12}$/);
  assert.equal(review.data.rule, 'held-port');

  // once approved, the same forward goes through once
  const approver = await t.token(['approver'], 'fwd-approver');
  const res = await fetch(`${t.httpUrl}/api/v1/reviews/${String(review.data.reviewId)}/approve`, { method: 'POST', headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 200, await res.text());
  const again = await tunnel(token, 'fwd', ['-L', `127.0.0.1:${l2}:127.0.0.1:${held.port}`], l2);
  const echoed = await exchange(l2, Buffer.from('approved'));
  const twice = await exchange(l2, Buffer.from('again'));
  await stop(again);
  assert.equal(echoed.toString(), 'approved');
  assert.equal(twice.length, 0, 'an approval lets one connection through');
  assert.equal(held.connections, 1);
});

test('a token revoked while a tunnel is open: the next forwarded connection is refused and reaches nothing', async () => {
  const token = await t.token(['dev'], 'fwd-revoked');
  const lport = await freePort();
  const tun = await tunnel(token, 'fwd', ['-L', `127.0.0.1:${lport}:127.0.0.1:${echo.port}`], lport);
  assert.equal((await exchange(lport, Buffer.from('before'))).toString(), 'before');
  const before = echo.connections;
  assert.equal(await t.gw.services.revokeToken('fwd-revoked', 'test'), 1);
  const after = await exchange(lport, Buffer.from('after'));
  await stop(tun);
  assert.equal(after.length, 0);
  assert.equal(echo.connections, before, 'the destination got no connection after the revocation');
  const last = (await commandsOf(t, 'fwd-revoked')).filter((e) => e.data.text === `forward local 127.0.0.1:${echo.port}`).at(-1)!;
  assert.equal(last.data.decision, 'block');
  assert.match(String(last.data.reason), /revoked/);
});

test('ssh -D (a SOCKS proxy on the caller\'s side) is local forwarding: the listed destination works, another is refused', async () => {
  const token = await t.token(['dev'], 'fwd-socks');
  const dport = await freePort();
  const tun = await tunnel(token, 'fwd', ['-D', `127.0.0.1:${dport}`], dport);
  const ok = await socks(dport, echo.port, Buffer.from('via socks'));
  const refused = await socks(dport, forbidden.port, Buffer.from('via socks'));
  await stop(tun);
  assert.equal(ok?.toString(), 'via socks');
  assert.equal(refused, null);
  assert.equal(forbidden.connections, 0);
  const decisions = (await commandsOf(t, 'fwd-socks')).map((e) => `${e.data.text} ${e.data.decision}`);
  assert.deepEqual(decisions, [`forward local 127.0.0.1:${echo.port} allow`, `forward local 127.0.0.1:${forbidden.port} block`]);
});

test('psql through ssh -L reaches Postgres from the target', async () => {
  const token = await t.token(['dev'], 'fwd-psql');
  const lport = await freePort();
  const tun = await tunnel(token, 'fwd', ['-L', `127.0.0.1:${lport}:127.0.0.1:5432`], lport);
  const r = await run('psql', [`host=127.0.0.1 port=${lport} user=postgres dbname=postgres sslmode=disable`, '-X', '-At', '-c', 'select 6 * 7'], { env: { PGCONNECT_TIMEOUT: '10' } });
  await stop(tun);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '42');
  const { cmd, res } = await forwardRecord('fwd-psql', 'forward local 127.0.0.1:5432');
  assert.equal(cmd.data.decision, 'allow');
  const [[dest, from, to]] = res.data.rows as string[][];
  assert.equal(dest, '127.0.0.1:5432');
  assert.ok(Number(from) > 0 && Number(to) > 0);
});

test('a caller that does not read holds the destination back (bounded memory); every byte still arrives and is counted', async () => {
  const token = await t.token(['dev'], 'fwd-slow');
  const lport = await freePort();
  const tun = await tunnel(token, 'fwd', ['-L', `127.0.0.1:${lport}:127.0.0.1:${blaster.port}`], lport);
  const sock = tcpConnect(lport, '127.0.0.1');
  sock.pause();
  // wait until the destination cannot write any more (every buffer on the way is full)
  let last = -1;
  await until('the destination to stall', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const stalled = blaster.written === last && blaster.written > 0;
    last = blaster.written;
    return stalled;
  });
  assert.ok(blaster.written < BLAST / 2, `the destination wrote ${blaster.written} of ${BLAST} bytes to a caller that read nothing`);
  let got = 0;
  sock.on('data', (b: Buffer) => (got += b.length));
  await new Promise((r) => {
    sock.on('close', r);
    sock.resume();
  });
  assert.equal(got, BLAST);
  const { res } = await forwardRecord('fwd-slow', `forward local 127.0.0.1:${blaster.port}`);
  await stop(tun);
  assert.deepEqual(res.data.rows, [[`127.0.0.1:${blaster.port}`, '0', String(BLAST)]]);
});

test('ssh -R: refused without a rule (nothing listens on the target); with one, each connection goes to the caller and is recorded', async () => {
  const none = await t.token(['dev'], 'fwd-r-none');
  const refused = await tunnel(none, 'box', ['-R', `${remotePort}:127.0.0.1:${echo.port}`], remotePort);
  assert.equal(await refused.exited, 255, refused.stderr());
  assert.match(refused.stderr(), /remote port forwarding failed/);
  assert.equal(await bound(remotePort), false, 'the target does not listen');
  const bind = (await commandsOf(t, 'fwd-r-none')).find((e) => e.data.text === `forward remote localhost:${remotePort}`)!;
  assert.equal(bind.data.decision, 'block');

  const token = await t.token(['dev'], 'fwd-r');
  const tun = await tunnel(token, 'fwd', ['-R', `${remotePort}:127.0.0.1:${echo.port}`], remotePort);
  assert.equal(tun.child.exitCode, null, tun.stderr());
  const before = echo.connections;
  const data = randomBytes(70_000);
  // a client on the target's machine connects to the port the target listens on
  const back = await exchange(remotePort, data);
  assert.ok(back.equals(data), `${back.length} of ${data.length} bytes came back`);
  assert.equal(echo.connections, before + 1);
  const conn = await until('the connection', async () => (await commandsOf(t, 'fwd-r')).find((e) => String(e.data.text).startsWith(`forward remote localhost:${remotePort} from 127.0.0.1:`)));
  assert.equal(conn.data.decision, 'allow');
  assert.equal(conn.data.via, 'forwarded-tcpip');
  const res = await until('its result', async () => (await resultsOf(t, 'fwd-r')).find((e) => e.data.commandId === conn.data.commandId));
  assert.deepEqual(res.data.rows, [[`localhost:${remotePort}`, String(data.length), String(data.length)]]);
  await stop(tun);
  // the bind's own result: how long, how many connections
  const { res: bindRes } = await forwardRecord('fwd-r', `forward remote localhost:${remotePort}`);
  assert.deepEqual(bindRes.data.rows, [[`localhost:${remotePort}`, '1']]);
  await until('the target to stop listening', async () => !(await bound(remotePort)));
});

test('ssh -A: the target sees no agent without a rule; with one it uses the caller\'s, each agent channel recorded', async () => {
  const env = (token: string) => ({ ...askpass(work, token), SSH_AUTH_SOCK: agentSock });
  const fingerprint = execFileSync('ssh-keygen', ['-lf', join(work, 'agent_key.pub')]).toString().split(' ')[1]!;
  const none = await t.token(['dev'], 'fwd-a-none');
  const r0 = await run('ssh', [...sshArgs(t.sshPort, ['-A']), 'box@127.0.0.1', 'ssh-add -l; echo "sock=${SSH_AUTH_SOCK:-none}"'], { env: env(none), timeoutMs: 30_000 });
  assert.doesNotMatch(r0.stdout, new RegExp(fingerprint.replace(/[+/]/g, '\\$&')));
  assert.match(r0.stdout, /sock=none/, 'the target got no agent socket');
  const refused = (await commandsOf(t, 'fwd-a-none')).find((e) => e.data.text === 'forward agent')!;
  assert.equal(refused.data.decision, 'block');

  const token = await t.token(['dev'], 'fwd-a');
  const r = await run('ssh', [...sshArgs(t.sshPort, ['-A']), 'fwd@127.0.0.1', 'ssh-add -l'], { env: env(token), timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /caller-agent-key/);
  assert.ok(r.stdout.includes(fingerprint), r.stdout);
  const cmds = await commandsOf(t, 'fwd-a');
  assert.equal(cmds.find((e) => e.data.text === 'forward agent' && e.data.via === 'auth-agent-req')?.data.decision, 'allow');
  const ch = cmds.find((e) => e.data.text === 'forward agent' && e.data.via === 'auth-agent@openssh.com')!;
  assert.equal(ch.data.decision, 'allow');
  const res = await until('the agent channel\'s result', async () => (await resultsOf(t, 'fwd-a')).find((e) => e.data.commandId === ch.data.commandId));
  const [[dest, from, to]] = res.data.rows as string[][];
  assert.equal(dest, 'agent');
  assert.ok(Number(from) > 0 && Number(to) > 0, `bytes both ways: ${from}, ${to}`);
  // the gateway logged in to the target with its own key, not the caller's agent key
  assert.doesNotMatch(sshd.log(), new RegExp(`Accepted publickey.*${fingerprint.replace(/[+/]/g, '\\$&')}`));
});

/** an ssh2 client logged in to the door with a token */
function login(token: string, user: string): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => resolve(c)).once('error', reject);
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: user, password: token, readyTimeout: 20_000 });
  });
}

test('at the wire: direct-tcpip to a host outside the list, names for it, and binds the rule does not name are refused', async () => {
  const c = await login(await t.token(['dev'], 'fwd-wire'), 'fwd');
  try {
    const open = (host: string, port: number) => new Promise((resolve, reject) => c.forwardOut('127.0.0.1', 4000, host, port, (e, s) => (e ? reject(e) : resolve(s))));
    await assert.rejects(open('127.0.0.1', forbidden.port), /warden: forwarding \(local 127\.0\.0\.1:\d+\) is off: no rule allows it/);
    await assert.rejects(open('localhost', echo.port), 'another name for an allowed address is not in the list');
    await assert.rejects(open('127.0.0.1', sshd.port));
    await assert.rejects(new Promise((resolve, reject) => c.forwardIn('127.0.0.1', remotePort, (e, p) => (e ? reject(e) : resolve(p)))));
    await assert.rejects(new Promise((resolve, reject) => c.forwardIn('localhost', 0, (e, p) => (e ? reject(e) : resolve(p)))));
    await assert.rejects(new Promise((resolve, reject) => c.openssh_forwardOutStreamLocal('/run/sshd.sock', (e, s) => (e ? reject(e) : resolve(s)))));
    assert.equal(forbidden.connections, 0);
    // and the allowed one still works from the same client
    const s = (await open('127.0.0.1', echo.port)) as import('ssh2').ClientChannel;
    const back = await new Promise<string>((resolve) => {
      let got = '';
      s.on('data', (b: Buffer) => (got += b.toString()));
      s.on('close', () => resolve(got));
      s.end('ping');
    });
    assert.equal(back, 'ping');
  } finally {
    c.end();
  }
  const decisions = (await commandsOf(t, 'fwd-wire')).map((e) => `${e.data.text} ${e.data.decision}`);
  assert.ok(decisions.includes(`forward local 127.0.0.1:${forbidden.port} block`), decisions.join('\n'));
  assert.ok(decisions.includes(`forward local localhost:${echo.port} block`));
  assert.ok(decisions.includes(`forward remote 127.0.0.1:${remotePort} block`));
});
