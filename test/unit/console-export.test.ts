// A recorded result as CSV and JSON (src/gateway/console-export.ts): column names, quoting,
// NULLs, structured values, and no spreadsheet formula smuggled in through a cell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { streamResult } from '../../src/gateway/console-export.ts';

const data = {
  columns: [{ name: 'id' }, { name: 'note' }, { name: 'total' }],
  rows: [
    ['1', 'plain', '-5'],
    ['2', 'has, comma and "quotes"', null],
    ['3', '=HYPERLINK("http://evil")', '+1'],
    ['4', 'line\nbreak', { a: 1 }],
  ],
};

test('CSV: header from the recorded columns, RFC 4180 quoting, formulas defused, NULL empty', async () => {
  const csv = await text(streamResult(data, 'csv'));
  assert.equal(csv, [
    'id,note,total',
    '1,plain,-5',
    '2,"has, comma and ""quotes""",',
    `3,"'=HYPERLINK(""http://evil"")","'+1"`,
    '4,"line\nbreak","{""a"":1}"',
    '',
  ].join('\r\n'));
});

test('JSON: one object per row under the column names', async () => {
  const rows = JSON.parse(await text(streamResult(data, 'json'))) as Record<string, unknown>[];
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[1], { id: '2', note: 'has, comma and "quotes"', total: null });
  assert.deepEqual(rows[3]!.total, { a: 1 });
  assert.deepEqual(JSON.parse(await text(streamResult({ rows: [] }, 'json'))), []);
});

test('columns missing from the record get positional names', async () => {
  assert.equal(await text(streamResult({ rows: [['a', 'b']] }, 'csv')), 'column1,column2\r\na,b\r\n');
});
