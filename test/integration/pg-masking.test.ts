// Masking on the Postgres data path: values are masked in DataRows, COPY output and
// error messages before they reach the client and before they are recorded, and a
// masked value stays valid for its column's type.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import postgres from 'postgres';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql, run } from '../helpers/clients.ts';
import { binaryCopyHeaderEnd, binaryCopyTuples } from '../helpers/binary-copy.ts';

let t: TestGateway;
let token: string;
const db = `warden_mask_${process.pid}`;
const CARD = '4242 4242 4242 4242';
const EMAIL = 'ada.lovelace@example.com';
const KEY = 'sk_live_51HxQzYtGfT4bXc9mNp2QrS8v';

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${db}`]);
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-c', `
    CREATE TABLE people (id int PRIMARY KEY, name text, email text UNIQUE, card text, note text, ssn int, balance numeric);
    INSERT INTO people VALUES (1, 'Ada', '${EMAIL}', '${CARD}', 'key ${KEY} here', 123456789, 10.5),
                              (2, 'Bob', 'bob@example.org', '5555 5555 5555 4444', 'nothing secret', 987654321, 3);`]);
  t = await startTestGateway({
    connections: [
      localPostgres('masked', { database: db, masking: { columns: [{ match: 'ssn', action: 'mask' }] } }),
      localPostgres('keeper', { database: db, masking: { keepOriginals: true } }),
    ],
  });
  token = await t.token(['dev'], 'masker');
});
after(async () => {
  await t.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
});

test('rows are masked for the pg driver; typed columns stay parseable', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'masked', password: token, database: 'x' });
  await c.connect();
  const r = await c.query('SELECT id, name, email, card, note, ssn, balance FROM people ORDER BY id');
  await c.end();
  const ada = r.rows[0];
  assert.equal(ada.id, 1);
  assert.equal(ada.name, 'Ada');
  assert.notEqual(ada.email, EMAIL);
  assert.doesNotMatch(ada.email, /lovelace/);
  assert.doesNotMatch(ada.card, /4242 4242 4242/);
  assert.doesNotMatch(ada.note, /sk_live_51H/);
  assert.match(ada.note, /^key .* here$/);
  assert.equal(ada.ssn, null, 'an int column under a mask rule becomes NULL, never text');
  assert.equal(ada.balance, '10.5');
  assert.equal(r.rows[1].note, 'nothing secret');
});

test('postgres.js (binary-capable, parses types) reads masked rows', async () => {
  const sql = postgres({ host: '127.0.0.1', port: t.pgPort, user: 'masked', password: token, database: 'x', max: 1 });
  try {
    const rows = await sql`SELECT id, email, ssn FROM people WHERE id = ${2}`;
    assert.equal(rows[0]!.id, 2);
    assert.equal(rows[0]!.ssn, null);
    assert.doesNotMatch(String(rows[0]!.email), /bob@example\.org/);
  } finally {
    await sql.end();
  }
});

test('COPY TO output and error messages that echo values are masked', async () => {
  const out = await psql(t.pgPort, 'masked', token, ['-c', 'COPY (SELECT email, card FROM people ORDER BY id) TO STDOUT']);
  assert.equal(out.code, 0, out.stderr);
  assert.doesNotMatch(out.stdout, /lovelace|4242 4242 4242 4242|bob@example/);
  assert.equal(out.stdout.trim().split('\n').length, 2);
  // The duplicate comes from the table, not from the command text, so only the server's message carries it.
  const dup = await psql(t.pgPort, 'masked', token, ['-c', 'INSERT INTO people (id, email) SELECT 3, email FROM people WHERE id = 1']);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /duplicate key value violates unique constraint/);
  assert.doesNotMatch(dup.stderr, /lovelace/);
});

/** Binary COPY output: header, then tuples of fields (null for NULL), then the trailer and nothing else. */
function parseBinaryCopy(b: Buffer): (Buffer | null)[][] {
  assert.equal(b.subarray(0, 11).toString('latin1'), 'PGCOPY\n\xff\r\n\0', 'signature');
  const { tuples, end } = binaryCopyTuples(b, binaryCopyHeaderEnd(b));
  assert.equal(end, b.length, 'nothing after the trailer');
  return tuples;
}

test('binary COPY: text fields masked with their lengths rebuilt; integers, bytea and NULL intact', async () => {
  const sql = "COPY (SELECT email, id, note, '\\xff00fe'::bytea AS raw, NULL::text AS nothing FROM people ORDER BY id) TO STDOUT (FORMAT binary)";
  const out = await new Promise<Buffer>((resolve, reject) => {
    execFile('psql', [`host=127.0.0.1 port=${t.pgPort} user=masked dbname=x sslmode=disable`, '-X', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'buffer', env: { ...process.env, PGPASSWORD: token } }, (err, stdout, stderr) => (err ? reject(new Error(stderr.toString())) : resolve(stdout)));
  });
  const tuples = parseBinaryCopy(out);
  assert.equal(tuples.length, 2);
  const [ada, bob] = tuples;
  assert.equal(ada![0]!.toString(), '[EMAIL]');
  assert.equal(ada![1]!.readInt32BE(0), 1);
  assert.equal(ada![2]!.toString(), 'key [API_TOKEN] here');
  assert.deepEqual([...ada![3]!], [0xff, 0x00, 0xfe]);
  assert.equal(ada![4], null);
  assert.equal(bob![0]!.toString(), '[EMAIL]');
  assert.equal(bob![2]!.toString(), 'nothing secret');
  assert.equal(out.includes(Buffer.from('lovelace')), false);
});

test('the record keeps the masked form and names the masked columns; originals are nowhere in the data dir', async () => {
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 50 });
  const results = [];
  for (const s of sessions) results.push(...(await t.gw.services.getSession(s.id))!.events.filter((e) => e.type === 'result'));
  const withRows = results.find((e) => (e.data.columns as { name: string }[] | undefined)?.length === 7)!;
  assert.ok(withRows, JSON.stringify(results.map((r) => r.data)));
  assert.deepEqual([...(withRows.data.maskedColumns as string[])].sort(), ['card', 'email', 'note', 'ssn']);
  for (const f of readdirSync(t.dataDir)) {
    const bytes = readFileSync(join(t.dataDir, f));
    for (const secret of [EMAIL, CARD, KEY, 'bob@example.org']) assert.equal(bytes.includes(secret), false, `${secret} in ${f}`);
  }
  const copy = results.find((e) => (e.data.maskedColumns as string[] | undefined)?.includes('(copy)'));
  assert.ok(copy, 'COPY output is recorded masked');
});

test('keepOriginals seals the unmasked values; only an auditor reveals them, and the reveal is audited', async () => {
  const r = await psql(t.pgPort, 'keeper', token, ['-A', '-t', '-c', 'SELECT id, email FROM people ORDER BY id']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /lovelace/);
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 50 });
  const s = sessions.find((x) => x.connection === 'keeper')!;
  const ev = (await t.gw.services.getSession(s.id))!.events.find((e) => e.type === 'result')!;
  assert.equal(typeof ev.data.originals, 'string');
  assert.doesNotMatch(String(ev.data.originals), /lovelace/);
  for (const f of readdirSync(t.dataDir)) assert.equal(readFileSync(join(t.dataDir, f)).includes(EMAIL), false, f);

  const reveal = (tok: string) => fetch(`${t.httpUrl}/api/v1/sessions/${s.id}/events/${ev.seq}/reveal`, { method: 'POST', headers: { authorization: `Bearer ${tok}` } });
  assert.equal((await reveal(token)).status, 403);
  const auditor = await t.token(['auditor'], 'the-auditor');
  const res = await reveal(auditor);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { originals: Record<string, (string | null)[]> };
  assert.deepEqual(body.originals['0'], ['1', EMAIL]);
  await t.gw.services.audit.flush();
  const after = (await t.gw.services.getSession(s.id))!.events;
  const audit = after.find((e) => e.type === 'originals.revealed')!;
  assert.equal(audit.actor, 'the-auditor');
  assert.equal(audit.data.seq, ev.seq);
  assert.equal((await fetch(`${t.httpUrl}/api/v1/sessions/${s.id}/events/1/reveal`, { method: 'POST', headers: { authorization: `Bearer ${auditor}` } })).status, 404);
});
