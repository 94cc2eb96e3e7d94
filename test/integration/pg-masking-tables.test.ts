// Masking rules by table.column at the Postgres door: the gateway looks up which table
// each result column comes from (its own short session to the target), so a rule
// applies to that table's column only, through aliases and joins, in simple and
// extended protocol, and in the recorded result.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { execFile } from 'node:child_process';
import { psql, run } from '../helpers/clients.ts';
import { binaryCopyHeaderEnd, binaryCopyTuples } from '../helpers/binary-copy.ts';

let t: TestGateway;
let token: string;
const db = `warden_masktables_${process.pid}`;

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${db}`]);
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-c', `
    CREATE TABLE people (id int PRIMARY KEY, nickname text, ssn text, password text);
    CREATE TABLE pets (id int PRIMARY KEY, owner int, nickname text);
    CREATE SCHEMA hr;
    CREATE TABLE hr.staff (id int PRIMARY KEY, salary int, nickname text);
    INSERT INTO people VALUES (1, 'Sunny', '078-05-1120', 'hunter2'), (2, 'Rocky', '219-09-9999', 'swordfish');
    INSERT INTO pets VALUES (1, 1, 'Rex'), (2, 2, 'Tom');
    INSERT INTO hr.staff VALUES (1, 90000, 'Boss');
    CREATE SCHEMA other;
    CREATE TABLE other.people (note text);
    INSERT INTO other.people VALUES ('mail sunny@example.com');`]);
  t = await startTestGateway({
    connections: [
      localPostgres('tables', {
        database: db,
        masking: { columns: [{ match: 'people.nickname' }, { match: 'hr.staff.salary' }, { match: 'id', action: 'skip' }] },
        // COPY output has no column names: the README's advice for columns no detector recognises.
        rules: [{ name: 'no-copy-people', match: { kinds: ['copy'], tables: ['people'] }, action: 'block' }],
      }),
      // The same rules without the guardrail: COPY of a table applies them by column.
      localPostgres('copies', {
        database: db,
        masking: { columns: [{ match: 'people.nickname' }, { match: 'hr.staff.salary' }, { match: 'id', action: 'skip' }] },
      }),
    ],
  });
  token = await t.token(['dev'], 'table-rules');
});
after(async () => {
  await t.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
});

const rows = async (sql: string) => {
  const r = await psql(t.pgPort, 'tables', token, ['-A', '-t', '-F', '|', '-c', sql]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n');
};

test('a table.column rule masks that table\'s column only, in a join where both tables have the column', async () => {
  const out = await rows('SELECT p.nickname, q.nickname FROM people p JOIN pets q ON q.owner = p.id ORDER BY p.id');
  assert.equal(out.length, 2);
  for (const line of out) {
    const [person, pet] = line.split('|');
    assert.doesNotMatch(person!, /Sunny|Rocky/, line);
    assert.match(pet!, /^(Rex|Tom)$/, line);
  }
});

test('an alias hides no column: table rules and built-in name rules follow the real column', async () => {
  const [line] = await rows('SELECT nickname AS n, password AS x, ssn AS id FROM people WHERE id = 1');
  const [n, x, ssnLabelledId] = line!.split('|');
  assert.doesNotMatch(n!, /Sunny/);
  assert.doesNotMatch(x!, /hunter2/, 'the password rule follows the column, not its label');
  assert.doesNotMatch(ssnLabelledId!, /078-05-1120/, 'a skip rule about "id" does not skip an SSN labelled id');
  // An expression carries the value under any label: a skip rule never applies to it...
  const [computed] = await rows("SELECT 'reach me at ' || lower(nickname) || '@example.com' AS id FROM pets WHERE id = 1");
  assert.equal(computed, 'reach me at [EMAIL]');
  // ...and one over a masked column is masked as that column (lineage).
  const [derived] = await rows("SELECT 'reach me at ' || lower(nickname) || '@example.com' AS id FROM people WHERE id = 1");
  assert.equal(derived, '[MASKED]');
  const [id] = await rows('SELECT id FROM people WHERE id = 1');
  assert.equal(id, '1');
});

test('schema.table.column on a typed column: NULL for the driver, other schemas untouched', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'tables', password: token, database: 'x' });
  await c.connect();
  try {
    const r = await c.query('SELECT salary AS pay, nickname FROM hr.staff WHERE id = $1', [1]);
    assert.equal(r.rows[0].pay, null);
    assert.equal(r.rows[0].nickname, 'Boss', 'hr.staff.nickname has no rule');
  } finally {
    await c.end();
  }
});

test('extended protocol with binary results (postgres.js) and several results in one query string', async () => {
  const sql = postgres({ host: '127.0.0.1', port: t.pgPort, user: 'tables', password: token, database: 'x', max: 1 });
  try {
    const r = await sql`SELECT nickname AS who, id FROM people WHERE id = ${2}`;
    assert.doesNotMatch(String(r[0]!.who), /Rocky/);
    assert.equal(r[0]!.id, 2);
  } finally {
    await sql.end();
  }
  // Two results, two tables, one round trip: each waits for its own names.
  const out = await rows('SELECT nickname FROM pets WHERE id = 1; SELECT nickname FROM people WHERE id = 1; SELECT nickname FROM hr.staff');
  assert.deepEqual([out[0], out[2]], ['Rex', 'Boss']);
  assert.doesNotMatch(out[1]!, /Sunny/);
});

test('the recorded result holds the masked value and names the masked column', async () => {
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 50 });
  const results = [];
  for (const s of sessions) results.push(...(await t.gw.services.getSession(s.id))!.events.filter((e) => e.type === 'result'));
  const join = results.find((e) => (e.data.maskedColumns as string[] | undefined)?.includes('n'));
  assert.ok(join, JSON.stringify(results.map((r) => r.data.maskedColumns)));
  assert.doesNotMatch(JSON.stringify(results), /Sunny|Rocky|hunter2|078-05-1120|90000/);
});

test('COPY cannot carry a rule-protected column out: the README\'s guardrail blocks it in every form', async () => {
  for (const sql of ['COPY people TO STDOUT', 'COPY people (nickname) TO STDOUT', 'COPY (SELECT nickname FROM people) TO STDOUT']) {
    const r = await psql(t.pgPort, 'tables', token, ['-c', sql]);
    assert.notEqual(r.code, 0, sql);
    assert.match(r.stderr, /no-copy-people/, sql);
    assert.doesNotMatch(r.stdout, /Sunny|Rocky/, sql);
  }
  const client = await psql(t.pgPort, 'tables', token, ['-c', '\\copy people to stdout']);
  assert.notEqual(client.code, 0);
  assert.doesNotMatch(client.stdout, /Sunny|Rocky/);
  // Other tables still copy.
  const pets = await psql(t.pgPort, 'tables', token, ['-c', 'COPY pets (nickname) TO STDOUT']);
  assert.equal(pets.code, 0, pets.stderr);
  assert.match(pets.stdout, /Rex/);
});

test('COPY of a table applies the column rules by column: text, CSV with header, column lists, schemas, \\copy, binary', async () => {
  const copy = async (sql: string) => {
    const r = await psql(t.pgPort, 'copies', token, ['-c', sql]);
    assert.equal(r.code, 0, `${sql}: ${r.stderr}`);
    return r.stdout;
  };
  // people: nickname by its table rule, ssn and password by the built-in name rules; id stays.
  const text = await copy('COPY people TO STDOUT');
  assert.doesNotMatch(text, /Sunny|Rocky|078-05-1120|219-09-9999|hunter2|swordfish/, text);
  assert.deepEqual(text.trim().split('\n').map((l) => l.split('\t').length), [4, 4], text);
  assert.match(text, /^1\t/m);
  assert.equal(await copy('\\copy people to stdout'), text, '\\copy is the same COPY');
  assert.ok((await copy('SELECT 1; COPY people TO STDOUT')).endsWith(text), 'second statement of a query string');
  // A column list and CSV with a header: the header row names columns and is left alone.
  const csv = await copy("COPY people (id, password, nickname) TO STDOUT (FORMAT csv, HEADER true, DELIMITER ';')");
  const [head, ...rows] = csv.trim().split('\n');
  assert.equal(head, 'id;password;nickname');
  assert.equal(rows.length, 2);
  for (const row of rows) assert.match(row, /^\d;"[^"]+";"[^"]+"$/, row);
  assert.doesNotMatch(csv, /hunter2|swordfish|Sunny|Rocky/);
  // schema.table.column on a typed column: NULL (\N), never text in an int column.
  assert.equal((await copy('COPY hr.staff TO STDOUT')).trim(), '1\t\\N\tBoss');
  // Another table's nickname has no rule.
  assert.equal((await copy('COPY pets (nickname) TO STDOUT')).trim().split('\n').sort().join(','), 'Rex,Tom');
  // The session's own search path finds another "people" than the gateway's lookup: the
  // column count differs, so the detectors apply rather than the wrong table's rules.
  assert.equal((await copy('SET search_path TO other; COPY people TO STDOUT')).trim().split('\n').pop(), 'mail [EMAIL]');
  // COPY (query) has no table: the detectors only, as documented (a nickname is no secret to them).
  assert.match(await copy('COPY (SELECT nickname FROM people WHERE id = 1) TO STDOUT'), /Sunny/);
  // Binary: the same rules, field by field; the int id intact, lengths rebuilt.
  const bin = await new Promise<Buffer>((resolve, reject) => {
    execFile('psql', [`host=127.0.0.1 port=${t.pgPort} user=copies dbname=x sslmode=disable`, '-X', '-c', 'COPY people TO STDOUT (FORMAT binary)'], { encoding: 'buffer', env: { ...process.env, PGPASSWORD: token } }, (err, stdout, stderr) => (err ? reject(new Error(stderr.toString())) : resolve(stdout)));
  });
  const { tuples } = binaryCopyTuples(bin, binaryCopyHeaderEnd(bin));
  assert.equal(tuples.length, 2);
  for (const [id, nickname, ssn, password] of tuples) {
    assert.ok([1, 2].includes(id!.readInt32BE(0)));
    for (const f of [nickname, ssn, password]) assert.doesNotMatch(f!.toString(), /Sunny|Rocky|078-05|219-09|hunter2|swordfish/);
  }
});
