// OpenSSH's own `ssh` through the gateway to a private sshd: `ssh -p <door> box@gateway
// '<command>'` with the Warden token as password. Ground truth is on the target: files the
// command made (or did not), and sshd's own log of who logged in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { askpass, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { commandsOf, eventsOf, resultsOf } from '../helpers/records.ts';

let sshd: TestSshd;
let t: TestGateway;
let work: string;

const box = (extra: Record<string, unknown> = {}) => ({
  name: 'box', type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['dev'] }, ...extra,
});

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'warden-ssh-work-'));
  t = await startTestGateway({
    connections: [box(), box({ name: 'raw', masking: { enabled: false } })],
    rules: [
      { name: 'no-rm', match: { types: ['ssh'], commands: ['rm *'] }, action: 'block', message: 'removing files is not allowed on box' },
      { name: 'held-touch', match: { types: ['ssh'], commands: ['touch */held-*'] }, action: 'review', review: { groups: ['approver'] } },
    ],
  });
});
after(async () => {
  await t?.close();
  await sshd?.close();
  rmSync(work, { recursive: true, force: true });
});

/** `ssh box@gateway <command>` as the holder of `token` */
const ssh = (token: string, command: string, extra: string[] = [], user = 'box') =>
  run('ssh', [...sshArgs(t.sshPort, extra), `${user}@127.0.0.1`, command], { env: askpass(work, token), timeoutMs: 30_000 });

test('an exec runs on the target with the gateway\'s key; output, exit status and the record come back', async () => {
  const token = await t.token(['dev'], 'exec-ok');
  const file = join(work, 'made-by-exec');
  const r = await ssh(token, `touch ${file} && uname -s && echo to-stderr >&2 && exit 7`);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, 'Linux\n');
  assert.match(r.stderr, /to-stderr/);
  assert.ok(existsSync(file), 'the command ran on the target');
  assert.match(sshd.log(), new RegExp(`Accepted publickey for ${sshd.user}`));
  const events = await eventsOf(t, 'exec-ok');
  const start = events.find((e) => e.type === 'session.start')!;
  assert.equal((start.data as { protocol: string }).protocol, 'ssh');
  const [cmd] = await commandsOf(t, 'exec-ok');
  assert.equal(cmd!.data.text, `touch ${file} && uname -s && echo to-stderr >&2 && exit 7`);
  assert.equal(cmd!.data.decision, 'allow');
  assert.equal(cmd!.data.via, 'exec');
  const [res] = await resultsOf(t, 'exec-ok');
  assert.equal(res!.data.tag, 'exit 7');
  assert.deepEqual(res!.data.rows, [['stdout', 'Linux\n'], ['stderr', 'to-stderr\n']]);
  // the command was stored before the result (and so before it ran: strict recording)
  assert.ok(cmd!.seq < res!.seq);
});

test('a blocked command never reaches the target: told on stderr, exit status 1', async () => {
  const token = await t.token(['dev'], 'exec-block');
  const file = join(work, 'never-made');
  const r = await ssh(token, `touch ${file}; rm -rf /tmp/nothing-here`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /warden: removing files is not allowed on box/);
  assert.equal(existsSync(file), false, 'nothing of the line ran');
  const [cmd] = await commandsOf(t, 'exec-block');
  assert.equal(cmd!.data.decision, 'block');
  assert.equal(cmd!.data.rule, 'no-rm');
  // a path to the program or quotes do not hide it
  for (const line of [`/bin/rm -f ${file}`, `'rm' -f ${file}`, `true && r\\m -f ${file}`]) {
    const again = await ssh(token, line);
    assert.equal(again.code, 1, line);
  }
  // what cannot be read from the text falls to onUnknown (review by default), never allow
  const opaque = await ssh(token, `$(echo touch) ${file}`);
  assert.equal(opaque.code, 3, opaque.stderr);
  assert.equal(existsSync(file), false);
});

test('a command held for review names its review, runs once approved', async () => {
  const token = await t.token(['dev'], 'exec-held');
  const approver = await t.token(['approver'], 'exec-approver');
  const file = join(work, 'held-file');
  const held = await ssh(token, `touch ${file}`);
  assert.equal(held.code, 3, held.stderr);
  const id = /held for review (r[0-9a-f]{12})/.exec(held.stderr)?.[1];
  assert.ok(id, held.stderr);
  assert.equal(existsSync(file), false);
  const res = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 200, await res.text());
  const ran = await ssh(token, `touch ${file}`);
  assert.equal(ran.code, 0, ran.stderr);
  assert.ok(existsSync(file));
});

test('output is masked before it reaches the caller and the record, even split across writes', async () => {
  const token = await t.token(['dev'], 'exec-mask');
  const r = await ssh(token, `printf 'contact ann.lee@exa'; sleep 0.3; printf 'mple.com today\\n'`);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /ann\.lee@example\.com/);
  assert.match(r.stdout, /contact \[EMAIL\] today/);
  const [res] = await resultsOf(t, 'exec-mask');
  assert.doesNotMatch(JSON.stringify(res!.data), /ann\.lee@example\.com/);
  assert.deepEqual(res!.data.maskedColumns, ['output']);
});

/** `ssh <user>@gateway <command>`, stdout as bytes */
function sshBytes(token: string, command: string, user: string): Promise<{ code: number | null; out: Buffer }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', [...sshArgs(t.sshPort), `${user}@127.0.0.1`, command], { env: { ...process.env, ...askpass(work, token) }, stdio: ['ignore', 'pipe', 'ignore'] });
    const parts: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => parts.push(b));
    child.on('close', (code) => resolve({ code, out: Buffer.concat(parts) }));
  });
}

test('large output streams through intact: bytes unchanged with masking off, text in order with it on', async () => {
  const token = await t.token(['dev'], 'exec-large');
  const file = join(work, 'random.bin');
  const data = randomBytes(8 << 20);
  writeFileSync(file, data);
  const raw = await sshBytes(token, `cat ${file}`, 'raw');
  assert.equal(raw.code, 0);
  assert.equal(createHash('sha256').update(raw.out).digest('hex'), createHash('sha256').update(data).digest('hex'));
  const masked = await sshBytes(token, 'seq 1 400000', 'box');
  assert.equal(masked.code, 0);
  const expected = Array.from({ length: 400000 }, (_, i) => String(i + 1)).join('\n') + '\n';
  assert.equal(masked.out.toString(), expected);
  // the record keeps at most recording.maxBytes of it
  const res = (await resultsOf(t, 'exec-large')).at(-1)!;
  assert.equal(res.data.truncated, true);
  assert.ok(Buffer.byteLength(String((res.data.rows as string[][])[0]![1])) <= 1024 * 1024);
});
