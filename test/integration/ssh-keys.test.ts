// SSH logins with a public key registered to the caller (`warden keys add`): OpenSSH's own
// `ssh -i <key>` through the gateway to a private sshd. Ground truth is on the target: the
// files a command made (or did not). Keys are made with ssh-keygen in a temp dir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { startSshd, type TestSshd } from '../helpers/sshd.ts';
import { eventsOf } from '../helpers/records.ts';
import ssh2, { type ParsedKey } from 'ssh2';

// CommonJS: only some names are visible to an ESM named import
const { Client, BaseAgent, utils } = ssh2;

const BIN = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
let sshd: TestSshd;
let t: TestGateway;
let work: string;

const conn = (name: string, groups: string[]) => ({
  name, type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups },
});

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'warden-sshkeys-'));
  t = await startTestGateway({ connections: [conn('box', ['dev']), conn('ops-box', ['ops'])] });
});
after(async () => {
  await t?.close();
  await sshd?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A fresh ed25519 key pair; its private key path, public line and fingerprint (as ssh-keygen prints it). */
function keygen(name: string): { key: string; pub: string; fingerprint: string } {
  const key = join(work, `key-${name}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', key]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { key, pub: readFileSync(`${key}.pub`, 'utf8'), fingerprint };
}

/** `ssh -i <key> <user>@gateway <command>`: the key only, never a password. */
const ssh = (key: string, command: string, user = 'box') =>
  run('ssh', [
    '-p', String(t.sshPort), '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10',
    `${user}@127.0.0.1`, command,
  ], { env: { SSH_AUTH_SOCK: '' }, timeoutMs: 30_000 });

const api = async (token: string, method: string, path: string, body?: unknown) => {
  const r = await fetch(`${t.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

const warden = (args: string[], token: string) =>
  run(process.execPath, [BIN, ...args], { env: { XDG_CONFIG_HOME: work, WARDEN_GATEWAY: t.httpUrl, WARDEN_TOKEN: token }, timeoutMs: 60_000 });

test('the CLI adds a key; ssh -i logs in with it and the command runs on the target; list shows it; after remove it is refused', async () => {
  const token = await t.token(['dev'], 'key-cli');
  const k = keygen('cli');
  const added = await warden(['keys', 'add', `${k.key}.pub`], token);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, new RegExp(`registered ${k.fingerprint.replace(/[+/]/g, '\\$&')}`));

  const file = join(work, 'made-with-key');
  const r = await ssh(k.key, `touch ${file} && echo hello`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  assert.ok(existsSync(file), 'the command ran on the target');
  const start = (await eventsOf(t, 'key-cli')).find((e) => e.type === 'session.start')!;
  assert.equal((start.data as { attributes: Record<string, string> }).attributes.key, k.fingerprint);

  const listed = await warden(['keys', 'list', '--json'], token);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as { fingerprint: string; comment: string; boundTo: string; owner: { name: string } }[];
  assert.deepEqual(rows.map((x) => [x.fingerprint, x.comment, x.boundTo, x.owner.name]), [[k.fingerprint, 'cli@test', 'apikey', 'key-cli']]);

  const removed = await warden(['keys', 'remove', k.fingerprint], token);
  assert.equal(removed.code, 0, removed.stderr);
  const after = join(work, 'after-remove');
  const again = await ssh(k.key, `touch ${after}`);
  assert.equal(again.code, 255);
  assert.match(again.stderr, /Permission denied/);
  assert.equal(existsSync(after), false, 'nothing ran with a removed key');
  assert.equal((JSON.parse((await warden(['keys', 'list', '--json'], token)).stdout) as unknown[]).length, 0);
});

test('an unregistered key is refused and nothing runs', async () => {
  const k = keygen('stranger');
  const file = join(work, 'stranger');
  const r = await ssh(k.key, `touch ${file}`);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /Permission denied/);
  assert.equal(existsSync(file), false);
});

test('an expired key is refused and nothing runs; the refusal is audited', async () => {
  const token = await t.token(['dev'], 'key-expired');
  const k = keygen('expired');
  const added = await api(token, 'POST', '/api/v1/ssh-keys', { publicKey: k.pub, ttl: '1ms' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const file = join(work, 'expired');
  const r = await ssh(k.key, `touch ${file}`);
  assert.equal(r.code, 255);
  assert.equal(existsSync(file), false);
  await t.gw.services.audit.flush();
  const denied = await t.gw.services.store.db.selectFrom('events').select('data').where('type', '=', 'auth.denied').where('actor', '=', 'key-expired').execute();
  assert.ok(denied.some((d) => /expired/.test(d.data) && /"frontDoor":"ssh"/.test(d.data)), 'auth.denied names the expiry at the ssh door');
});

test('a key dies with the API key that registered it: revoked, it is refused and nothing runs', async () => {
  const token = await t.token(['dev'], 'key-revoked');
  const k = keygen('revoked');
  assert.equal((await api(token, 'POST', '/api/v1/ssh-keys', { publicKey: k.pub })).status, 201);
  const before = join(work, 'before-revoke');
  assert.equal((await ssh(k.key, `touch ${before}`)).code, 0);
  assert.ok(existsSync(before));
  assert.equal(await t.gw.services.revokeToken('key-revoked', 'test'), 1);
  const file = join(work, 'after-revoke');
  const r = await ssh(k.key, `touch ${file}`);
  assert.equal(r.code, 255);
  assert.equal(existsSync(file), false);
});

test('a local user\'s key keeps that login\'s groups, expires by default, and dies when the user is disabled', async () => {
  await t.gw.services.addUser('alice', 'correct horse battery staple', ['dev'], 'test');
  const login = await fetch(`${t.httpUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'correct horse battery staple' }) });
  const token = ((await login.json()) as { access_token: string }).access_token;
  const k = keygen('alice');
  const added = await api(token, 'POST', '/api/v1/ssh-keys', { publicKey: k.pub });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(added.body.boundTo, 'login');
  assert.deepEqual(added.body.groups, ['dev']);
  const days = (Date.parse(String(added.body.expiresAt)) - Date.now()) / 86_400_000;
  assert.ok(days > 29.9 && days <= 30, `default expiry 30 days, got ${days}`);
  const ok = join(work, 'alice-ok');
  assert.equal((await ssh(k.key, `touch ${ok}`)).code, 0);
  assert.ok(existsSync(ok));
  assert.equal(await t.gw.services.disableUser('alice', 'test'), true);
  const file = join(work, 'alice-disabled');
  assert.equal((await ssh(k.key, `touch ${file}`)).code, 255);
  assert.equal(existsSync(file), false);
});

test('a registered key on a connection its owner may not use: told why, exit 1, nothing runs; access.denied audited', async () => {
  const token = await t.token(['dev'], 'key-not-ops');
  const k = keygen('not-ops');
  assert.equal((await api(token, 'POST', '/api/v1/ssh-keys', { publicKey: k.pub })).status, 201);
  const file = join(work, 'on-ops');
  const r = await ssh(k.key, `touch ${file}`, 'ops-box');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /warden: key-not-ops \(groups dev\) is not allowed to use connection "ops-box"/);
  assert.equal(existsSync(file), false);
  await t.gw.services.audit.flush();
  const denied = await t.gw.services.store.db.selectFrom('events').select('data').where('type', '=', 'access.denied').where('actor', '=', 'key-not-ops').execute();
  assert.equal(denied.length, 1);
});

test('a key registered to one caller cannot be taken over, removed or listed by another; private keys are refused', async () => {
  const owner = await t.token(['dev'], 'key-owner');
  const other = await t.token(['dev'], 'key-other');
  const k = keygen('owned');
  assert.equal((await api(owner, 'POST', '/api/v1/ssh-keys', { publicKey: k.pub })).status, 201);
  assert.equal((await api(other, 'POST', '/api/v1/ssh-keys', { publicKey: k.pub })).status, 409);
  assert.equal((await api(other, 'DELETE', `/api/v1/ssh-keys/${encodeURIComponent(k.fingerprint)}`)).status, 404);
  assert.deepEqual((await api(other, 'GET', '/api/v1/ssh-keys')).body, []);
  assert.equal((await api(other, 'GET', '/api/v1/ssh-keys?all=true')).status, 403);
  const all = await api(t.adminToken, 'GET', '/api/v1/ssh-keys?all=true');
  assert.ok((all.body as unknown as { fingerprint: string }[]).some((x) => x.fingerprint === k.fingerprint));
  // the owner's key still logs in as the owner
  const file = join(work, 'owned');
  assert.equal((await ssh(k.key, `touch ${file}`)).code, 0);
  assert.ok(existsSync(file));
  const priv = await api(other, 'POST', '/api/v1/ssh-keys', { publicKey: readFileSync(k.key, 'utf8') });
  assert.equal(priv.status, 400);
  assert.match(String(priv.body.error), /private key/);
});

test('a registered public key offered with a signature made by another key is refused: no login, nothing audited as admitted', async () => {
  const token = await t.token(['dev'], 'key-forged');
  const victim = keygen('victim');
  const attacker = keygen('attacker');
  assert.equal((await api(token, 'POST', '/api/v1/ssh-keys', { publicKey: victim.pub })).status, 201);
  const shown = utils.parseKey(victim.pub) as ParsedKey;
  const signer = utils.parseKey(readFileSync(attacker.key, 'utf8')) as ParsedKey;
  // An agent that offers the victim's registered public key and signs with the attacker's private key.
  class ForgingAgent extends BaseAgent<ParsedKey> {
    getIdentities(cb: (e: Error | null, keys?: ParsedKey[]) => void) {
      cb(null, [shown]);
    }
    sign(_pub: ParsedKey, data: Buffer, opts: unknown, cb?: (e?: Error | null, sig?: Buffer) => void) {
      const done = (typeof opts === 'function' ? opts : cb) as (e?: Error | null, sig?: Buffer) => void;
      done(null, signer.sign(data));
    }
  }
  const outcome = await new Promise<string>((resolve) => {
    const c = new Client();
    c.on('ready', () => {
      c.end();
      resolve('logged in');
    });
    c.on('error', (e) => resolve(e.message));
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: 'box', agent: new ForgingAgent(), readyTimeout: 20_000 });
  });
  assert.match(outcome, /All configured authentication methods failed/);
  await t.gw.services.audit.flush();
  const ok = await t.gw.services.store.db.selectFrom('events').select('type').where('actor', '=', 'key-forged').where('type', '=', 'auth.ok').execute();
  assert.equal(ok.length, 0, 'never admitted');
});

test('removing a key ends a session already logged in with it: its next command is refused and does not run', async () => {
  const token = await t.token(['dev'], 'key-open');
  const k = keygen('open');
  assert.equal((await api(token, 'POST', '/api/v1/ssh-keys', { publicKey: k.pub })).status, 201);
  const c = new Client();
  await new Promise<void>((resolve, reject) => {
    c.on('ready', () => resolve());
    c.on('error', reject);
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: 'box', privateKey: readFileSync(k.key, 'utf8'), readyTimeout: 20_000 });
  });
  const exec = (cmd: string) =>
    new Promise<{ code: number | null; err: string }>((resolve, reject) => {
      c.exec(cmd, (e, ch) => {
        if (e) return reject(e);
        let err = '';
        ch.stderr.on('data', (d: Buffer) => (err += d.toString()));
        ch.on('data', () => {});
        ch.on('close', (code: number | null) => resolve({ code, err }));
      });
    });
  try {
    const first = join(work, 'open-first');
    assert.equal((await exec(`touch ${first}`)).code, 0);
    assert.ok(existsSync(first));
    assert.equal((await api(token, 'DELETE', `/api/v1/ssh-keys/${encodeURIComponent(k.fingerprint)}`)).status, 200);
    const second = join(work, 'open-second');
    const r = await exec(`touch ${second}`).catch((e: Error) => ({ code: null, err: e.message }));
    assert.notEqual(r.code, 0);
    assert.equal(existsSync(second), false, 'nothing ran after the key was removed');
  } finally {
    c.end();
  }
});
