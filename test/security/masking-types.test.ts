// Issue 13, class 5 (masking by type): the detectors are not bypassed by the type a value
// comes back in. Records, composites, arrays, ranges, hstore, xml, json, tsvector, bytea,
// user types and numbers that can hold a card are read (in text form, or decoded from the
// binary form) and masked; a binary value the gateway cannot read is masked whole; only
// types that provably carry no text (bool, dates, uuid...) pass as they are. Each case
// runs the same statement straight against Postgres (the clear value) and through a real
// gateway (text format over the simple query protocol; binary format with Bind asking for
// binary results), and checks what the client got AND what the record keeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { recordedFor } from '../helpers/records.ts';
import { rawConnect, rowsOf, errorsOf, type RawPg } from '../helpers/raw-pg.ts';
import type { FrontendMessage } from '../../src/protocols/postgres/messages.ts';
import { execFile } from 'node:child_process';
import { binaryCopyHeaderEnd, binaryCopyTuples } from '../helpers/binary-copy.ts';

let t: TestGateway;
let gateway: RawPg;
let direct: RawPg;
let driver: pg.Client;
const db = `warden_types_${process.pid}`;
// A Visa number that passes Luhn (not a famous test number) and an email: what must not come out.
const CARD = '4539578763621486';
const EMAIL = 'sunny@example.com';

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${db}`]);
  const setup = await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-c', `
    CREATE EXTENSION hstore;
    CREATE TYPE contact AS (name text, email text);
    CREATE TYPE mood AS ENUM ('calm', '${EMAIL}');
    -- column names that say nothing: no column rule applies, only the detectors
    CREATE TABLE things (id int PRIMARY KEY, c1 int8, c2 numeric(20,2), c3 text, c4 bool, c5 date, c6 uuid);
    CREATE TABLE docs (id int PRIMARY KEY, h hstore);
    INSERT INTO docs VALUES (1, hstore('email', '${EMAIL}'));
    INSERT INTO things VALUES (1, ${CARD}, ${CARD}.00, '${EMAIL}', true, '2020-02-02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');`]);
  assert.equal(setup.code, 0, setup.stderr);
  t = await startTestGateway({ connections: [localPostgres('types', { database: db })] });
  gateway = await rawConnect(t.pgPort, 'types', await t.token(['dev'], 'types-reader'));
  direct = await rawConnect(5432, 'postgres', '', { database: db });
  driver = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'types', database: 'types', password: await t.token(['dev'], 'types-driver') });
  await driver.connect();
});
after(async () => {
  await driver?.end();
  gateway?.close();
  direct?.close();
  await t?.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
});

type Format = 'text' | 'binary';

/** The one row a statement returns, values as latin1 (binary ones as their raw bytes). */
async function row(client: RawPg, sql: string, format: Format): Promise<(string | null)[]> {
  const messages: FrontendMessage[] =
    format === 'text'
      ? [{ type: 'Query', text: sql }]
      : [
          { type: 'Parse', name: '', text: sql, paramTypes: [] },
          { type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [1] },
          { type: 'Describe', target: 'P', name: '' },
          { type: 'Execute', portal: '', maxRows: 0 },
          { type: 'Sync' },
        ];
  const answers = await client.roundTrip(...messages);
  assert.deepEqual(errorsOf(answers), [], sql);
  const rows = rowsOf(answers);
  assert.equal(rows.length, 1, `${sql}: ${JSON.stringify(rows)}`);
  return rows[0]!;
}

/** The rows and masked columns the record keeps for a statement (binary values as \x-hex). */
const recorded = (sql: string) => recordedFor(t, sql);

const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');

/** The forms a secret may take in a value: itself, its hex (bytea text, a binary value in the record). */
function assertNoSecret(what: unknown, secret: string, context: string): void {
  const text = JSON.stringify(what);
  for (const f of [secret, hex(secret)]) assert.ok(!text.includes(f), `${context}: "${f}" came out in ${text}`);
}

/**
 * The attack: `sql` returns one value holding `secret` (clear when read straight from
 * Postgres); through the gateway neither the client nor the record sees it, and the
 * record names the column as masked.
 */
async function attack(statement: string, format: Format, secret: string): Promise<void> {
  const sql = `${statement} /* ${format} */`; // one record per format
  const [clear] = await row(direct, sql, format);
  assert.ok(clear !== null, `${sql}: no value from Postgres`);
  const [got] = await row(gateway, sql, format);
  assert.notEqual(got, clear, `${sql} (${format}): the client got the clear value ${JSON.stringify(clear)}`);
  assertNoSecret(got, secret, `${sql} (${format}) client`);
  const rec = await recorded(sql);
  assert.equal(rec.rows.length, 1, `${sql}: recorded ${JSON.stringify(rec.rows)}`);
  assert.ok(!JSON.stringify(rec.rows).includes(hex(clear)) || clear.length < 4, `${sql} (${format}): the record holds the clear bytes`);
  assertNoSecret(rec.rows, secret, `${sql} (${format}) record`);
  assert.ok(rec.masked.length > 0, `${sql} (${format}): the record says nothing was masked`);
}

/** The negative: the value comes through as Postgres sent it, and nothing is said masked. */
async function untouched(statement: string, format: Format): Promise<void> {
  const sql = `${statement} /* ${format} */`;
  const clear = await row(direct, sql, format);
  assert.deepEqual(await row(gateway, sql, format), clear, `${sql} (${format})`);
  assert.deepEqual((await recorded(sql)).masked, [], `${sql} (${format})`);
}

// Records and composites
test('a record built with ROW(...) (text): the email and the card inside are masked', async () => {
  await attack(`SELECT ROW(1, '${EMAIL}') AS r`, 'text', EMAIL);
  await attack(`SELECT ROW(2, ${CARD}::int8) AS r`, 'text', CARD);
});
test('a record of a numeric or float8 card (text): its numbers are read as numbers', async () => {
  // "(4539578763621486.00)" and "(4.539578763621486e+15)": no text detector sees a card there
  await attack('SELECT ROW(c2) AS r FROM things', 'text', CARD);
  await attack(`SELECT ROW(${CARD}::float8) AS r`, 'text', '4.539578763621486');
});
test('a record (binary): read field by field, masked whole', async () => {
  await attack(`SELECT ROW(3, '${EMAIL}'::text) AS r`, 'binary', EMAIL);
});
test('a composite of a user type (binary): masked', async () => {
  await attack(`SELECT ROW('Sunny', '${EMAIL}')::contact AS r`, 'binary', EMAIL);
});

// Numbers that can hold a card
test('int8, numeric and float8 holding a card number (text): masked', async () => {
  await attack('SELECT c1 FROM things', 'text', CARD);
  await attack('SELECT c2 FROM things', 'text', CARD);
  await attack(`SELECT ${CARD}::float8 AS f`, 'text', CARD);
  // the pg driver in text mode, as an application reads it
  const r = await driver.query('SELECT c1, c2 FROM things');
  assertNoSecret(r.rows, CARD, 'pg driver');
});
test('int8 and numeric holding a card number (binary): decoded and masked', async () => {
  await attack('SELECT c1 FROM things WHERE id = 1', 'binary', CARD);
  await attack('SELECT c2 FROM things WHERE id = 1', 'binary', CARD);
});

// Arrays, ranges
test('arrays of numbers and of text (text format): masked', async () => {
  await attack(`SELECT ARRAY[${CARD}]::int8[] AS a`, 'text', CARD);
  await attack(`SELECT ARRAY[${CARD}.00]::numeric[] AS a`, 'text', CARD);
});
test('arrays in binary result format: text elements and numbers read, masked', async () => {
  await attack(`SELECT ARRAY['calm', '${EMAIL}']::text[] AS a`, 'binary', EMAIL);
  await attack(`SELECT ARRAY[${CARD}]::int8[] AS a`, 'binary', CARD);
});
test('a range of int8 holding a card number: masked (text and binary)', async () => {
  await attack(`SELECT int8range(${CARD}, ${CARD}9) AS r`, 'text', CARD);
  await attack(`SELECT int8range(${CARD}, ${CARD}9) AS r`, 'binary', CARD);
});

// hstore, xml, json, tsvector
test('hstore (binary): masked', async () => {
  await attack('SELECT h FROM docs', 'binary', EMAIL);
});
test('xml[] and jsonb[] (binary): masked', async () => {
  await attack(`SELECT ARRAY['<a>${EMAIL}</a>'::xml] AS x`, 'binary', EMAIL);
  await attack(`SELECT ARRAY['{"e": "${EMAIL}"}'::jsonb] AS j`, 'binary', EMAIL);
});
test('tsvector: the lexemes are masked (text and binary)', async () => {
  await attack(`SELECT to_tsvector('simple', 'card ${CARD}') AS v`, 'text', CARD);
  await attack(`SELECT to_tsvector('simple', 'card ${CARD}') AS v`, 'binary', CARD);
});

// bytea
test('bytea (hex text form and raw binary): the bytes are read as text and masked', async () => {
  await attack(`SELECT convert_to('mail ${EMAIL}', 'UTF8') AS b`, 'text', EMAIL);
  await attack(`SELECT convert_to('mail ${EMAIL}', 'UTF8') AS b`, 'binary', EMAIL);
});

// Binary COPY: its fields are in the same binary forms as DataRow values
test('COPY ... (FORMAT binary) of an int8 and a numeric holding a card: masked', async () => {
  const token = await t.token(['dev'], 'types-copier');
  const bin = await new Promise<Buffer>((resolve, reject) => {
    const conn = `host=127.0.0.1 port=${t.pgPort} user=types dbname=types sslmode=disable`;
    execFile('psql', [conn, '-X', '-c', 'COPY things (c1, c2, c4) TO STDOUT (FORMAT binary)'], { encoding: 'buffer', env: { ...process.env, PGPASSWORD: token } }, (err, stdout, stderr) => (err ? reject(new Error(stderr.toString())) : resolve(stdout)));
  });
  const { tuples } = binaryCopyTuples(bin, binaryCopyHeaderEnd(bin));
  assert.equal(tuples.length, 1);
  const [c1, c2, c4] = tuples[0]!;
  assert.ok(c1 === null || c1.readBigInt64BE(0) !== BigInt(CARD), `int8 came out clear: ${c1?.toString('hex')}`);
  assert.ok(c2 === null || c2.length !== 16, `numeric came out clear: ${c2?.toString('hex')}`);
  assert.deepEqual(c4, Buffer.from([1]), 'the bool is untouched');
});

// User types whose binary form the gateway cannot read
test('an enum value (binary, a form the gateway cannot read): masked whole', async () => {
  await attack(`SELECT '${EMAIL}'::mood AS m`, 'binary', EMAIL);
});

// The negative: types that carry no text pass as they are, in both formats
test('bool, date, uuid, int4 and a small int8 are unchanged, text and binary', async () => {
  for (const format of ['text', 'binary'] as const) {
    await untouched('SELECT c4, c5, c6, id FROM things', format);
    await untouched('SELECT 42::int8 AS n, ARRAY[true]::bool[] AS b', format);
  }
  // a record, an array and a bytea with nothing in them are not touched either
  await untouched("SELECT ROW(1, 'calm') AS r, ARRAY['calm']::text[] AS a, convert_to('calm', 'UTF8') AS b", 'text');
  await untouched("SELECT ROW(1, 'calm'::text) AS r, ARRAY['calm']::text[] AS a, convert_to('calm', 'UTF8') AS b", 'binary');
});
