// COPY rows in text and CSV format, split into fields and rebuilt: unchanged fields as
// they came, replaced ones written in the format's own way; NULLs, quotes, escapes and
// custom delimiters kept right; a row that does not parse is reported, not guessed at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskCopyRow, type CopyRowFormat } from '../../src/protocols/postgres/copy-rows.ts';
import { classifyPostgres, initPostgresParser } from '../../src/sql/postgres.ts';
import { compileMasker } from '../../src/masking/index.ts';
import { pgResult } from '../helpers/pg-masking.ts';

const TEXT: CopyRowFormat = { format: 'text', delimiter: '\t', quote: '"' };
const CSV: CopyRowFormat = { format: 'csv', delimiter: ',', quote: '"' };

/** Replace field 1 with `[X]`; report what each field was read as. */
function run(line: string, f: CopyRowFormat, replace: (i: number, v: string | null) => string | null | undefined = (i) => (i === 1 ? '[X]' : undefined)) {
  const seen: (string | null)[] = [];
  const out = maskCopyRow(line, f, (i, v) => {
    seen.push(v);
    return replace(i, v);
  });
  return { out, seen };
}

test('text format: fields by the delimiter, \\N is NULL, escaped delimiters stay inside a field', () => {
  assert.deepEqual(run('1\tsecret\t\\N\n', TEXT), { out: '1\t[X]\t\\N\n', seen: ['1', 'secret', null] });
  const pipe: CopyRowFormat = { ...TEXT, delimiter: '|' };
  assert.deepEqual(run('a\\|b|c\\\\|d\n', pipe), { out: 'a\\|b|[X]|d\n', seen: ['a\\|b', 'c\\\\', 'd'] });
  // a replacement holding the delimiter or a newline is escaped; NULL is \N
  assert.equal(run('1|x\n', pipe, (i) => (i === 1 ? 'p|q\nr' : undefined)).out, '1|p\\|q\\nr\n');
  assert.equal(run('1\tx\n', TEXT, (i) => (i === 1 ? null : undefined)).out, '1\t\\N\n');
  // nothing replaced: the very same string
  const line = '1\tx\n';
  assert.ok(run(line, TEXT, () => undefined).out === line);
});

test('csv: quoted fields with delimiters, doubled quotes and newlines; unquoted empty is NULL, "" is empty', () => {
  const line = '7,"a, ""b""\nc",,"",plain\n';
  const r = run(line, CSV, (i) => (i === 4 ? 'x,"y"' : undefined));
  assert.deepEqual(r.seen, ['7', 'a, "b"\nc', null, '', 'plain']);
  assert.equal(r.out, '7,"a, ""b""\nc",,"","x,""y"""\n');
  assert.equal(run('1,secret\r\n', CSV).out, '1,"[X]"\r\n');
  assert.equal(run('1,secret\n', CSV, (i) => (i === 1 ? null : undefined)).out, '1,\n');
  const semi: CopyRowFormat = { format: 'csv', delimiter: ';', quote: "'" };
  assert.deepEqual(run("1;'it''s';z\n", semi), { out: "1;'[X]';z\n", seen: ['1', "it's", 'z'] });
  // not CSV: an unclosed quote, or text after a closing quote
  assert.equal(run('1,"open\n', CSV).out, null);
  assert.equal(run('1,"a"b,c\n', CSV).out, null);
});

test('the COPY statement says its table, columns, format and CSV options', async () => {
  await initPostgresParser();
  const copy = (sql: string) => classifyPostgres(sql).statements[0]!.copy!;
  assert.deepEqual(copy('COPY people TO STDOUT'), { direction: 'to', program: false, file: false, relation: { name: 'people' }, columns: undefined, format: 'text', delimiter: '\t', quote: '"', escape: '"', header: false });
  const c = copy(`COPY hr."Staff" (id, "Pay") TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', QUOTE '''')`);
  assert.deepEqual([c.relation, c.columns, c.format, c.delimiter, c.quote, c.escape, c.header], [{ schema: 'hr', name: 'Staff' }, ['id', 'Pay'], 'csv', ';', "'", "'", true]);
  assert.deepEqual([copy('COPY people TO STDOUT CSV HEADER').header, copy('COPY people TO STDOUT (FORMAT binary)').format], [true, 'binary']);
  assert.equal(copy('COPY (SELECT 1) TO STDOUT').relation, undefined);
});

test('with a result masker: per-column rules, typed columns to \\N, NULL markers kept, same string when clean', () => {
  const rs = pgResult(compileMasker({ hmacKey: 'k'.repeat(32) }), [{ name: 'id', typeOid: 23 }, { name: 'ssn', typeOid: 20 }, { name: 'note', typeOid: 25 }]);
  const byColumn = (line: string) => maskCopyRow(line, TEXT, (i, v) => (v === null ? undefined : rs.maskText(i, v)));
  const clean = '1\t\\N\thello\n';
  assert.ok(byColumn(clean) === clean);
  assert.equal(byColumn('2\t123456789\tmail a@example.com\n'), '2\t\\N\tmail [EMAIL]\n');
});
