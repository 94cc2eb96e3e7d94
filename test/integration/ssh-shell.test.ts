// Interactive shells through the gateway: OpenSSH's `ssh -tt` (a real pty) and ssh2's client
// (window sizes). The terminal is recorded as asciicast v2 with output masked; typed lines are
// recorded as commands and judged; a refused line never runs (checked on the target).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { askpass, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { commandsOf, resultsOf } from '../helpers/records.ts';
import { run } from '../helpers/clients.ts';

const { Client } = ssh2;
let sshd: TestSshd;
let t: TestGateway;
let work: string;

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'warden-ssh-shell-'));
  t = await startTestGateway({
    connections: [{ name: 'box', type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['dev', 'noshell'] } }],
    rules: [
      { name: 'no-rm', match: { types: ['ssh'], commands: ['rm *'] }, action: 'block', message: 'removing files is not allowed on box' },
      { name: 'no-shell', match: { groups: ['noshell'], commands: ['shell'] }, action: 'block', message: 'no interactive shells for you' },
    ],
  });
});
after(async () => {
  await t?.close();
  await sshd?.close();
  rmSync(work, { recursive: true, force: true });
});

/** `ssh -tt box@gateway`, typing these lines one by one; what the terminal showed and the exit status */
function typeInto(token: string, lines: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', [...sshArgs(t.sshPort), '-tt', 'box@127.0.0.1'], { env: { ...process.env, ...askpass(work, token) } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (out += b));
    // each line once the previous one's prompt is back (a `$ ` or `# ` at the end)
    let i = 0;
    const next = () => {
      if (i >= lines.length) return;
      if (/[$#] $/.test(out)) {
        child.stdin.write(`${lines[i++]}\n`);
        out += '\u0000'; // a mark so the same prompt is not taken twice
      }
      setTimeout(next, 50);
    };
    next();
    child.on('close', (code) => resolve({ code, out: out.replaceAll('\u0000', '') }));
  });
}

test('ssh -tt: typed lines run, are recorded as commands; a blocked line never runs; the terminal is recorded masked', async () => {
  const token = await t.token(['dev'], 'shell-user');
  const kept = join(work, 'kept');
  const r = await typeInto(token, [`touch ${kept}`, `rm -f ${kept}`, 'echo mail: ann.lee@example.com', 'exit 4']);
  assert.equal(r.code, 4, r.out);
  assert.match(r.out, /warden: removing files is not allowed on box/);
  assert.ok(existsSync(kept), 'the blocked rm did not run');
  assert.doesNotMatch(r.out, /ann\.lee@example\.com/);
  assert.match(r.out, /mail: \[EMAIL\]/);
  const cmds = (await commandsOf(t, 'shell-user')).map((e) => [e.data.text, e.data.via, e.data.decision]);
  assert.deepEqual(cmds, [
    ['(shell)', 'shell', 'allow'],
    [`touch ${kept}`, 'shell-line', 'allow'],
    [`rm -f ${kept}`, 'shell-line', 'block'],
    // the record holds the line as typed; the output it printed is masked
    ['echo mail: ann.lee@example.com', 'shell-line', 'allow'],
    ['exit 4', 'shell-line', 'allow'],
  ]);
  const [res] = await resultsOf(t, 'shell-user');
  assert.equal(res!.data.tag, 'exit 4');
  const castPath = (res!.data.rows as string[][])[0]![1]!;
  const cast = readFileSync(castPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(cast[0].version, 2);
  assert.ok(cast[0].width > 0 && cast[0].height > 0);
  const events = cast.slice(1) as [number, string, string][];
  assert.ok(events.every((e, i) => i === 0 || e[0] >= events[i - 1]![0]), 'times never go back');
  const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
  assert.match(output, /mail: \[EMAIL\]/);
  assert.match(output, /warden: removing files/);
  assert.doesNotMatch(readFileSync(castPath, 'utf8'), /ann\.lee@example\.com/);
  assert.deepEqual(events.filter((e) => e[1] === 'i').map((e) => e[2]), [`touch ${kept}\r`, `rm -f ${kept}\r`, 'echo mail: [EMAIL]\r', 'exit 4\r']);
});

test('a shell the rules refuse, and a shell without a pty, are refused in place', async () => {
  const token = await t.token(['noshell'], 'no-shell');
  const r = await typeInto(token, []);
  assert.equal(r.code, 1);
  assert.match(r.out, /warden: no interactive shells for you/);
  const c = await connect(await t.token(['dev'], 'no-pty'));
  try {
    const out = await new Promise<string>((resolve, reject) =>
      c.shell(false, (e, ch) => {
        if (e) return reject(e);
        let s = '';
        ch.stderr.on('data', (b: Buffer) => (s += b));
        ch.resume(); // a stream not read never ends
        ch.on('close', () => resolve(s));
      }),
    );
    assert.match(out, /a shell needs a terminal/);
  } finally {
    c.end();
  }
  assert.equal((await commandsOf(t, 'no-pty')).length, 0);
});

function connect(token: string): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => resolve(c)).once('error', reject);
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: 'box', password: token, readyTimeout: 20_000 });
  });
}

test('the pty has the caller\'s size and follows a resize; a password typed where nothing echoes is not kept', async () => {
  const c = await connect(await t.token(['dev'], 'sizer'));
  try {
    let out = '';
    const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.shell({ rows: 30, cols: 100, term: 'xterm' }, (e, s) => (e ? reject(e) : resolve(s))));
    ch.on('data', (b: Buffer) => (out += b));
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 500 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(out, re);
    };
    await waitFor(/[$#] $/);
    ch.write('stty size\r');
    await waitFor(/30 100/);
    ch.setWindow(40, 120, 0, 0);
    ch.write('stty size\r');
    await waitFor(/40 120/);
    ch.write("read -s -p 'pw: ' X; echo got-${#X}\r");
    await waitFor(/pw: /);
    ch.write('hunter2-secret\r');
    await waitFor(/got-14/);
    ch.write('exit\r');
    await new Promise((r) => ch.on('close', r));
  } finally {
    c.end();
  }
  const texts = (await commandsOf(t, 'sizer')).map((e) => e.data.text);
  assert.ok(!texts.some((x) => String(x).includes('hunter2')), 'the password is no command');
  assert.ok(texts.includes('stty size'));
  const [res] = await resultsOf(t, 'sizer');
  const cast = readFileSync((res!.data.rows as string[][])[0]![1]!, 'utf8');
  assert.doesNotMatch(cast, /hunter2/);
  assert.match(cast, /"r","120x40"/);
  assert.match(cast.split('\n')[0]!, /"width":100,"height":30/);
});

test('warden sessions show prints the commands and the output; --play writes the recording back', async () => {
  const token = await t.token(['dev'], 'replayed');
  const r = await typeInto(token, ['echo replay-me ann.lee@example.com', 'exit']);
  assert.equal(r.code, 0, r.out);
  await t.gw.services.audit.flush();
  const s = (await t.gw.services.listSessions({ limit: 1000 })).find((x) => x.identityName === 'replayed')!;
  const bin = join(new URL('../..', import.meta.url).pathname, 'bin/warden.js');
  const env = { WARDEN_GATEWAY: t.httpUrl, WARDEN_TOKEN: t.adminToken };
  const show = await run(process.execPath, [bin, 'sessions', 'show', s.id], { env });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /\(shell\)/);
  assert.match(show.stdout, /echo replay-me ann\.lee@example\.com/, 'the typed line as a command');
  assert.match(show.stdout, /terminal:\n(.*\n)*\s+replay-me \[EMAIL\]/, 'the output, masked, escapes stripped');
  assert.match(show.stdout, /recording: .*\.cast/);
  const play = await run(process.execPath, [bin, 'sessions', 'show', s.id, '--play'], { env });
  assert.equal(play.code, 0, play.stderr);
  assert.match(play.stdout, /replay-me \[EMAIL\]/);
  assert.doesNotMatch(play.stdout + show.stdout.replace(/echo replay-me ann\.lee@example\.com/, ''), /ann\.lee@example\.com/);
});

test('a token revoked during a shell: the next typed line is refused and the shell ends; nothing more runs', { timeout: 60_000 }, async () => {
  const token = await t.token(['dev'], 'revoked-mid');
  const after = join(work, 'after-revoke');
  const c = await connect(token);
  try {
    let out = '';
    const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.shell({ rows: 24, cols: 80, term: 'xterm' }, (e, s) => (e ? reject(e) : resolve(s))));
    ch.on('data', (b: Buffer) => (out += b));
    const closed = new Promise((r) => ch.on('close', r));
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 500 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(out, re);
    };
    await waitFor(/[$#] $/);
    await t.gw.services.revokeToken('revoked-mid', 'test');
    ch.write(`touch ${after}\r`);
    await waitFor(/revoked/);
    await closed;
  } finally {
    c.end();
  }
  assert.equal(existsSync(after), false);
  const end = (await commandsOf(t, 'revoked-mid')).at(-1)!;
  assert.equal(end.data.decision, 'block');
});
