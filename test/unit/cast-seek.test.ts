// Where `sessions show --play --from` starts a terminal recording: at a command's marker, or
// at a time into the session placed through the markers; and play() draws what came before
// at once, then keeps the recorded pace from there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFrom, readCast, seek, type Cast } from '../../src/cli/cast-seek.ts';
import { play } from '../../src/cli/render-terminal.ts';

const cast = (events: [number, string, string][], timestamp = 1_700_000_000): Cast => ({ file: 'x', timestamp, events });

test('parseFrom: command ids, #n, times; another session\'s id is refused', () => {
  assert.deepEqual(parseFrom('#3', 'sid'), { commandId: 'sid:3' });
  assert.deepEqual(parseFrom('sid:12', 'sid'), { commandId: 'sid:12' });
  assert.deepEqual(parseFrom('90s', 'sid'), { offsetMs: 90_000 });
  assert.deepEqual(parseFrom('1m30s', 'sid'), { offsetMs: 90_000 });
  assert.deepEqual(parseFrom('12.5', 'sid'), { offsetMs: 12_500 });
  assert.deepEqual(parseFrom('0', 'sid'), { offsetMs: 0 });
  assert.throws(() => parseFrom('other:1', 'sid'), /not of session sid/);
  assert.throws(() => parseFrom('soon', 'sid'), /expected a command id/);
});

test('seek: a marker places a command exactly; a time goes through the markers to the right recording', () => {
  const start = Date.parse('2026-01-01T00:00:00.000Z');
  // the session's commands: (shell) at +1 s, a line at +5 s; a second shell at +20 s
  const times = new Map([['s:1', start + 1000], ['s:2', start + 5000], ['s:3', start + 20_000]]);
  const casts = [
    cast([[0, 'm', 's:1'], [0.5, 'o', '$ '], [4, 'o', 'ls\r\n'], [4.01, 'm', 's:2'], [6, 'o', 'done']]),
    cast([[0, 'm', 's:3'], [1, 'o', 'second']]),
  ];
  assert.deepEqual(seek(casts, { commandId: 's:2' }, start, times), { index: 0, atS: 4.01 });
  assert.deepEqual(seek(casts, { commandId: 's:3' }, start, times), { index: 1, atS: 0 });
  // +3 s into the session is 2 s into the first recording (it began with s:1, at +1 s)
  assert.deepEqual(seek(casts, { offsetMs: 3000 }, start, times), { index: 0, atS: 2 });
  // between the shells: the second from its start; after both: nothing
  assert.deepEqual(seek(casts, { offsetMs: 10_000 }, start, times), { index: 1, atS: 0 });
  assert.equal(seek(casts, { offsetMs: 60_000 }, start, times), null);
  assert.equal(seek(casts, { commandId: 's:9' }, start, times), null);
});

test('play from a moment: the screen before it in one write, then the recorded events in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cast-'));
  try {
    const file = join(dir, 'a.cast');
    writeFileSync(file, [JSON.stringify({ version: 2, width: 80, height: 24 }), ...[[0.1, 'o', 'one '], [0.2, 'o', 'two '], [0.3, 'm', 's:2'], [0.3, 'i', 'typed\r'], [0.35, 'o', 'three '], [0.4, 'o', 'four']].map((e) => JSON.stringify(e))].join('\n') + '\n');
    const writes: string[] = [];
    const out = { write: (s: string) => void writes.push(s) } as unknown as NodeJS.WritableStream;
    await play(readCast(file), out, { fromS: 0.3 });
    assert.deepEqual(writes, ['one two ', 'three ', 'four'], 'output only, the earlier part at once');
    writes.length = 0;
    await play(file, out);
    assert.deepEqual(writes, ['one ', 'two ', 'three ', 'four']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
