// A terminal's echo of the caller's own keys goes out at once (no idle wait), and nothing of
// the target's goes out with it: a secret around, before or split by the echo stays masked.
// The idle flush is off here (0), so whatever shows before end() was let out by a push.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';
import { EchoTracker } from '../../src/protocols/ssh/echo.ts';
import { MaskedOutput } from '../../src/protocols/ssh/output.ts';

const m = compileMasker({ hmacKey: 'k'.repeat(32) });

function terminal() {
  const echo = new EchoTracker();
  let shown = '';
  const out = new MaskedOutput({ masker: m, keepBytes: 1 << 20, idleFlushMs: 0, echo, write: (_d, text) => (shown += text) });
  return {
    type: (s: string) => echo.typed(s),
    /** the target writes this; returns what the caller saw because of it */
    target(s: string): string {
      const before = shown.length;
      out.push(Buffer.from(s));
      return shown.slice(before);
    },
    end(): string {
      out.end();
      return shown;
    },
  };
}

test('tracker: printable keys echo as themselves, Backspace as an erase sequence, other keys are barriers', () => {
  const e = new EchoTracker();
  e.typed('ab\x7fc');
  assert.equal(e.match('a'), 1);
  assert.equal(e.match('b\b\x1b[K'), 5);
  assert.equal(e.match('c'), 1);
  assert.equal(e.match('c'), 0, 'nothing is expected any more');
  e.typed('x\ry');
  assert.equal(e.match('x\r\n'), 1, 'Enter has no foreseeable echo');
  assert.equal(e.match('y'), 0, 'output past the echo cleared what was expected');
  e.typed('\x1b[200~pasted\x1b[201~');
  assert.equal(e.match('pasted'), 6, 'bracketed paste marks are not echoed');
  e.typed('\u00e9\u20ac\u{1f600}');
  assert.equal(e.match('\u00e9\u20ac\u{1f600}'), 4);
});

test('a typed key is let out at once, each one; a paste too', () => {
  const t = terminal();
  assert.equal(t.target('$ prompt\n'), '$ prompt\n');
  for (const k of 'ls -l') {
    t.type(k);
    assert.equal(t.target(k), k);
  }
  t.type('\x7f');
  assert.equal(t.target('\b\x1b[K'), '\b\x1b[K');
  t.type('\x7f');
  assert.equal(t.target('\b \b'), '\b \b');
  t.type('echo pasted text');
  assert.equal(t.target('echo pasted'), 'echo pasted');
  assert.equal(t.target(' text'), ' text');
});

test('an echo behind held target text (a prompt not yet let out) waits with it', () => {
  const t = terminal();
  assert.equal(t.target('$ '), '');
  t.type('a');
  assert.equal(t.target('a'), '');
  assert.equal(t.end(), '$ a');
});

test('attack: an email whose local part is the target’s and domain is typed stays masked', () => {
  const t = terminal();
  assert.equal(t.target('ann'), '');
  for (const k of '@example.com') {
    t.type(k);
    assert.equal(t.target(k), '', 'the target text before the echo is held, so the echo is too');
  }
  const all = t.end();
  assert.ok(!all.includes('ann'), all);
});

test('attack: a key the target printed most of, its tail typed by the caller, stays masked', () => {
  const t = terminal();
  assert.equal(t.target('key AKIAIOSFODNN7EXAM'), '');
  t.type('PLE');
  assert.equal(t.target('PLE'), '');
  const all = t.end();
  assert.ok(!all.includes('AKIAIOSFODNN7'), all);
});

test('attack: the target imitates the echo to get its own text out: only the typed bytes go early', () => {
  const t = terminal();
  t.type('a');
  assert.equal(t.target('a 4111 1111 1111 1111'), 'a');
  t.type(' ');
  assert.equal(t.target(' '), '', 'the target text before it is held');
  const all = t.end();
  assert.ok(!all.includes('4111'), all);
});

test('attack: output that is not the echo clears what is expected; a later imitation gets nothing out', () => {
  const t = terminal();
  t.type('xy');
  assert.equal(t.target('zz'), '');
  assert.equal(t.target('\n'), 'zz\n');
  assert.equal(t.target('y'), '', 'y was expected only right after x');
  assert.equal(t.end(), 'zz\ny');
});

test('a secret the target writes after echoed keys, split across writes, is masked; typed context still counts', () => {
  const t = terminal();
  for (const k of 'password=') {
    t.type(k);
    assert.equal(t.target(k), k);
  }
  assert.equal(t.target('hunt'), '');
  t.target('er2 mail ann@exa');
  t.target('mple.com\n');
  const all = t.end();
  for (const secret of ['hunter2', 'ann@example.com', 'ann@exa']) assert.ok(!all.includes(secret), `${secret} in ${all}`);
});

test('a redraw after the echo (readline inserting mid-line) is held; only the typed key goes', () => {
  const t = terminal();
  t.type('x');
  assert.equal(t.target('xtail\b\b\b\b'), 'x');
  assert.equal(t.end(), 'xtail\b\b\b\b');
});

test('a full-screen app that does not echo keys literally keeps the hold', () => {
  const t = terminal();
  t.type('ia');
  assert.equal(t.target('\x1b[?25la\x1b[?25h'), '');
  t.type('\x1b');
  assert.equal(t.target('\x1b[2;1H'), '');
});

test('a key pressed inside a private key the target is printing does not let any of it out', () => {
  const t = terminal();
  t.target('-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oyP\n');
  t.type('q');
  assert.equal(t.target('q'), '');
  const all = t.end();
  assert.ok(!all.includes('MHcCAQEE'), all);
});
