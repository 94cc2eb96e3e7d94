// Keystroke echo in a real pty shell (bash on the private sshd) through the gateway with
// masking on. The idle flush is made ten minutes long here, so nothing held shows through
// the timer: a typed key's echo that arrives did so because it was let out as an echo. If
// that breaks, the wait for it hangs and the test's timeout fails it (no timing is measured).
// The target's own text stays held: an email the target began and the caller completed by
// typing never shows unmasked, on the terminal or in the recording.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startSshd, type TestSshd } from '../helpers/sshd.ts';
import { resultsOf } from '../helpers/records.ts';
import { terminalOutput } from '../../src/protocols/ssh/output.ts';

let sshd: TestSshd;
let t: TestGateway;

before(async () => {
  terminalOutput.idleFlushMs = 10 * 60_000;
  sshd = await startSshd();
  t = await startTestGateway({
    connections: [{ name: 'box', type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['dev'] } }],
  });
});
after(async () => {
  await t?.close();
  await sshd?.close();
});

test('each typed key echoes without the idle flush; target text around typed keys stays held and masked', { timeout: 60_000 }, async () => {
  const token = await t.token(['dev'], 'typist');
  const c = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve()).once('error', reject);
    c.connect({ host: '127.0.0.1', port: t.sshPort, username: 'box', password: token, readyTimeout: 20_000 });
  });
  let out = '';
  try {
    const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.shell({ rows: 24, cols: 200, term: 'xterm' }, (e, s) => (e ? reject(e) : resolve(s))));
    let waiting: (() => void) | null = null;
    ch.on('data', (b: Buffer) => {
      out += b;
      waiting?.();
    });
    /** resolves once `test` holds for what arrived since `from`; never otherwise (the test's timeout) */
    const until = (from: number, test: (s: string) => boolean) =>
      new Promise<void>((ok) => {
        const check = () => {
          if (!test(out.slice(from))) return;
          waiting = null;
          ok();
        };
        waiting = check;
        check();
      });
    // The login prompt has no newline: held (no idle flush). A prompt ending in a newline
    // leaves nothing held once shown, as after a real prompt's idle flush.
    ch.write("PS1='ready\\n'\r");
    await until(0, (s) => /ready\r+\n/.test(s));
    for (const key of 'echo hx\x7fi') {
      const from = out.length;
      ch.write(key);
      // a key's echo: itself, or an erase sequence for Backspace
      await until(from, (s) => (key === '\x7f' ? s.startsWith('\b') : s === key));
    }
    let from = out.length;
    ch.write('\r');
    await until(from, (s) => /\rhi\r\n/.test(s) && /ready\r+\n$/.test(s));
    // The target prints the local part of an email and waits; the caller types the domain.
    // Typed only once the command runs (its `go` line shows): keys that reach the pty while
    // readline still holds it in raw mode are never echoed by the terminal at all.
    from = out.length;
    ch.write("echo go; printf 'mail ann'; read x; echo done\r");
    await until(from, (s) => /\rgo\r\n/.test(s));
    for (const key of '@example.com') ch.write(key);
    ch.write('\r');
    await until(from, (s) => s.includes('done\r\n') && /ready\r+\n$/.test(s));
    ch.write('exit\r');
    await new Promise((r) => ch.on('close', r));
  } finally {
    c.end();
  }
  assert.match(out, /mail \[EMAIL\]/);
  // (the typed command line itself reads `printf 'mail ann'`)
  assert.doesNotMatch(out, /ann@|mail ann(?!')/, 'the target part of the email went out unmasked');
  const [res] = await resultsOf(t, 'typist');
  const cast = readFileSync((res!.data.rows as string[][])[0]![1]!, 'utf8');
  assert.doesNotMatch(cast, /ann@|mail ann(?!')/);
  assert.match(cast, /"o","h"/, 'a typed key is recorded as its own output event');
});
