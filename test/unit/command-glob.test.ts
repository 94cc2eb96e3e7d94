// The command search's glob -> SQL translation: `%` and `_` in a glob are plain characters
// (escaped in the LIKE pattern), `*` is the only wildcard, and the exact test is the one
// `commands:` rules apply. The LIKE patterns also run on a real SQLite, whose LIKE ignores
// case, to show the prefilter keeps every true match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { commandMatcher, globToLike } from '../../src/store/command-glob.ts';

test('globToLike: * is %, and %, _ and the escape character are escaped', () => {
  assert.equal(globToLike('SELECT *'), 'SELECT %');
  assert.equal(globToLike('*100%*'), '%100\\%%');
  assert.equal(globToLike('*a_b*'), '%a\\_b%');
  assert.equal(globToLike('C:\\tmp\\*'), 'C:\\\\tmp\\\\%');
  assert.equal(globToLike('**'), '%%');
  assert.equal(globToLike('?[x]'), '?[x]', 'a glob has no ? or [ wildcard');
});

test('commandMatcher: whole text, case-sensitive, * spans newlines, like a commands: rule', () => {
  const m = commandMatcher('DROP TABLE *');
  assert.ok(m.test('DROP TABLE users'));
  assert.ok(!m.test('drop table users'), 'case-sensitive');
  assert.ok(!m.test('-- x\nDROP TABLE users'), 'anchored at the start');
  assert.ok(commandMatcher('*DROP*').test('SELECT 1;\nDROP TABLE t'), '* spans newlines');
  assert.ok(!commandMatcher('*100%*').test('SELECT 1000'), '% is no wildcard');
  assert.ok(!commandMatcher('*a_b*').test('SELECT axb'), '_ is no wildcard');
  assert.ok(commandMatcher('*a_b*').test('SELECT a_b'));
  assert.throws(() => commandMatcher(''), /empty/);
});

test('commandMatcher: a program given by its path matches by its base name (ssh-match.ts)', () => {
  const m = commandMatcher('rm *');
  assert.ok(m.test('/usr/bin/rm -rf /tmp/x'));
  assert.ok(m.test('rm -rf /tmp/x'));
  assert.ok(!m.test('echo /usr/bin/rm -rf'), 'only the program word');
  assert.deepEqual(m.like, ['rm %', '%/rm %']);
  assert.deepEqual(commandMatcher('*rm*').like, ['%rm%'], 'a leading * already covers paths');
});

test('the LIKE patterns on SQLite keep every true match and drop % / _ look-alikes', () => {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE c (text TEXT)');
  const texts = ['SELECT 1 AS "100%_sure"', 'SELECT 1000 AS x_sure', 'SELECT 100 AS "100x_sure"', 'select 1 as "100%_sure"', 'a\\b', 'axb', '/bin/rm -r x', 'rm x'];
  const ins = db.prepare('INSERT INTO c VALUES (?)');
  for (const t of texts) ins.run(t);
  const search = (glob: string) => {
    const m = commandMatcher(glob);
    const rows = db.prepare(`SELECT text FROM c WHERE ${m.like.map(() => "text LIKE ? ESCAPE '\\'").join(' OR ')}`).all(...m.like) as { text: string }[];
    const pre = rows.map((r) => r.text);
    // the prefilter is a superset of the exact matches
    for (const t of texts) if (m.test(t)) assert.ok(pre.includes(t), `${glob} kept ${t}`);
    return pre.filter((t) => m.test(t));
  };
  assert.deepEqual(search('*100%_sure*'), ['SELECT 1 AS "100%_sure"', 'select 1 as "100%_sure"']);
  // SQLite's LIKE ignores case; the exact test does not
  assert.deepEqual(search('select *'), ['select 1 as "100%_sure"']);
  assert.deepEqual(search('a\\b'), ['a\\b']);
  assert.deepEqual(search('rm *'), ['/bin/rm -r x', 'rm x']);
});

test('rawLike: the longest literal part JSON writes unchanged, as a prefilter over the raw event', () => {
  assert.equal(commandMatcher('*100%_sure*').rawLike, '%100\\%\\_sure%');
  assert.equal(commandMatcher('echo needle*').rawLike, '%echo needle%');
  assert.equal(commandMatcher('SELECT "x" FROM *t').rawLike, null, 'a quote is escaped in JSON: no raw prefilter');
  assert.equal(commandMatcher('*ab*').rawLike, null, 'too short to rule much out');
  assert.equal(commandMatcher('*a\\b* FROM users*').rawLike, '% FROM users%', 'the longest part without a backslash');
  // every exact match passes the raw prefilter on a real SQLite
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE e (data TEXT)');
  const texts = ['SELECT 1 AS "100%_sure"', 'SELECT "a\\b" FROM users', 'x\n FROM users\ty', '/bin/echo needle_42', 'héllo wörld'];
  for (const t of texts) db.prepare('INSERT INTO e VALUES (?)').run(JSON.stringify({ commandId: 's:1', text: t }));
  for (const glob of ['*100%_sure*', '* FROM users*', 'echo needle*', '*llo wö*', '*\\b" FROM users']) {
    const m = commandMatcher(glob);
    const raw = m.rawLike === null ? texts : (db.prepare("SELECT data FROM e WHERE data LIKE ? ESCAPE '\\'").all(m.rawLike) as { data: string }[]).map((r) => (JSON.parse(r.data) as { text: string }).text);
    for (const t of texts) if (m.test(t)) assert.ok(raw.includes(t), `${glob}: the raw prefilter kept ${JSON.stringify(t)}`);
    assert.ok(texts.some((t) => m.test(t)), `${glob} matches something`);
  }
});
