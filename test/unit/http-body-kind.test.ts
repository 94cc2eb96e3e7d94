// What a response body is taken for when masking is on: its first bytes decide, not its label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyKind, validUtf8 } from '../../src/protocols/http/body-kind.ts';

const CSV = Buffer.from('id,email\n1,grace@example.org\n');
const kind = (label: string | undefined, b: Buffer, complete = true) => bodyKind(label, b, complete).kind;

test('UTF-8 text is text whatever its label, or with none', () => {
  for (const label of [undefined, 'application/octet-stream', 'image/png', 'text/csv', 'application/json', 'application/vnd.ms-excel']) assert.equal(kind(label, CSV), 'text', String(label));
  assert.equal(kind('application/octet-stream', Buffer.from('café ☕ 😀')), 'text');
});

test('a character cut by the end of the sample still reads as UTF-8 when more is to come, not when the body ended', () => {
  const s = Buffer.from('ok é😀');
  for (let cut = 1; cut < 4; cut++) {
    const part = s.subarray(0, s.length - cut);
    assert.equal(validUtf8(part, false), true, `cut ${cut}`);
    assert.equal(validUtf8(part, true), false, `cut ${cut}, ended`);
  }
  // an overlong form or a lone continuation byte is not UTF-8 anywhere
  assert.equal(validUtf8(Buffer.from([0x41, 0xc0, 0xaf, 0x41]), false), false);
  assert.equal(validUtf8(Buffer.from([0x41, 0x80]), false), false);
});

test('binary passes only when its first bytes prove it, and only under a label that is not text', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xa7, 0xa7]);
  assert.equal(kind('image/png', png), 'binary');
  assert.equal(kind(undefined, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x41])), 'binary');
  // labelled text: masked as text (what is not UTF-8 arrives as U+FFFD), never passed unread
  assert.equal(kind('text/plain', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x41])), 'text');
  // an executable is full of NULs but is not text read two bytes at a time
  const elf = Buffer.alloc(256);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x3e, 0, 1, 0, 0, 0, 0x90, 0xf3, 0xa1, 0xc2]).copy(elf);
  for (let i = 64; i < 256; i += 3) elf[i] = 0x80 + (i % 120);
  assert.equal(kind('application/octet-stream', elf), 'binary');
});

test('text Warden cannot read is refused: a foreign charset, a byte-order mark, UTF-16 without one, text between NULs', () => {
  assert.equal(kind('text/csv; charset=utf-16', Buffer.from('id', 'utf16le')), 'refuse');
  assert.equal(kind('text/plain; charset="Shift_JIS"', CSV), 'refuse');
  assert.equal(kind(undefined, Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('id,email', 'utf16le').swap16()])), 'refuse');
  assert.equal(kind('application/octet-stream', Buffer.from('é,grace@example.org', 'utf16le')), 'refuse', 'UTF-16LE with a non-ASCII start is not UTF-8, but it is text');
  assert.equal(kind('application/octet-stream', Buffer.from('é,grace@example.org', 'utf16le').swap16()), 'refuse', 'big-endian too');
  assert.equal(kind('application/x-tar', Buffer.concat([Buffer.from('data.csv'), Buffer.alloc(100), CSV])), 'refuse');
  assert.equal(kind('text/plain', Buffer.from('a\0b')), 'refuse');
});

test('a one-byte charset is read byte for byte; UTF-8 spellings and ASCII are UTF-8; nothing is nothing', () => {
  assert.deepEqual(bodyKind('text/plain; charset=ISO-8859-1', Buffer.from([0x63, 0x61, 0x66, 0xe9]), true), { kind: 'text', charset: 'latin1' });
  assert.deepEqual(bodyKind('text/plain; charset=windows-1252', CSV, true), { kind: 'text', charset: 'latin1' });
  for (const cs of ['utf-8', 'UTF8', 'us-ascii']) assert.deepEqual(bodyKind(`application/json; charset=${cs}`, CSV, true), { kind: 'text', charset: 'utf8' }, cs);
  assert.equal(kind('application/json', Buffer.alloc(0)), 'empty');
  assert.equal(kind('application/json', Buffer.alloc(0), false), 'text');
});
