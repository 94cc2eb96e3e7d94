// Issue 13, values past the masking: the server echoes a value in an error. A cast that
// fails quotes the value (`invalid input syntax for type integer: "..."`), a duplicate key
// or a failed check lists it (`Key (code)=(...) already exists`, `Failing row contains
// (...)`), so a caller could read a masked column one error at a time, and the record
// kept it too. Each attack runs on the wire against a real gateway and the real Postgres;
// the assertions are on every field of the error the client got and on the whole record.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { eventsOf } from '../helpers/records.ts';
import { rawConnect, type RawPg } from '../helpers/raw-pg.ts';

let t: TestGateway;
let client: RawPg;
const db = `warden_echo_${process.pid}`;
// Values no detector flags: only the column rule masks them.
const SECRETS = ['QX7-ALPHA-0042', 'ZEBRA-TANGO-99'];

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${db}`]);
  const setup = await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-c', `
    CREATE TABLE vault (id int PRIMARY KEY, code text UNIQUE);
    INSERT INTO vault VALUES (1, '${SECRETS[0]}'), (2, '${SECRETS[1]}');
    CREATE TABLE short_codes (code text CHECK (length(code) < 5));`]);
  assert.equal(setup.code, 0, setup.stderr);
  t = await startTestGateway({
    connections: [localPostgres('echo', { database: db, masking: { columns: [{ match: 'vault.code' }] } })],
  });
  client = await rawConnect(t.pgPort, 'echo', await t.token(['dev'], 'echo-attacker'));
});
after(async () => {
  client?.close();
  await t?.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
});

function assertNoSecret(what: unknown, context: string): void {
  const text = JSON.stringify(what);
  for (const s of SECRETS) assert.ok(!text.includes(s), `${context}: "${s}" came out in ${text}`);
}

/** The error the client got for `sql` (every field), after checking the record holds no secret. */
async function attack(sql: string, sqlstate: string): Promise<Record<string, string>> {
  const answers = await client.roundTrip({ type: 'Query', text: sql });
  const err = answers.find((m) => m.type === 'ErrorResponse');
  assert.ok(err && err.type === 'ErrorResponse', `${sql}: no error (${JSON.stringify(answers)})`);
  assert.equal(err.fields.C, sqlstate, `${sql}: ${JSON.stringify(err.fields)}`);
  assertNoSecret(err.fields, sql);
  assertNoSecret(await eventsOf(t, 'echo-attacker'), `${sql} (record)`);
  return err.fields;
}

test('a failed cast does not echo a masked value (class 22), and the message keeps its shape', async () => {
  const f = await attack('SELECT code::int FROM vault ORDER BY id', '22P02');
  assert.equal(f.M, 'invalid input syntax for type integer: "[REDACTED]"');
  await attack('SELECT code::date FROM vault WHERE id = 2', '22007');
  await attack('SELECT code::jsonb FROM vault WHERE id = 1', '22P02');
  await attack('SELECT code::numeric FROM vault WHERE id = 2', '22P02');
});

test('the same cast in the extended protocol, with an error mid-pipeline: redacted, and the statement after Sync runs', async () => {
  const answers = await client.roundTrip(
    { type: 'Parse', name: '', text: 'SELECT code::int FROM vault WHERE id = 1', paramTypes: [] },
    { type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [1] },
    { type: 'Execute', portal: '', maxRows: 0 },
    { type: 'Parse', name: '', text: 'SELECT 1', paramTypes: [] },
    { type: 'Sync' },
    { type: 'Query', text: 'SELECT count(*) FROM vault' },
  );
  const err = answers.find((m) => m.type === 'ErrorResponse');
  assert.ok(err && err.type === 'ErrorResponse');
  assert.equal(err.fields.M, 'invalid input syntax for type integer: "[REDACTED]"');
  assertNoSecret(answers, 'extended');
  assert.ok(answers.some((m) => m.type === 'CommandComplete' && m.tag === 'SELECT 1'), 'the session goes on after Sync');
  assertNoSecret(await eventsOf(t, 'echo-attacker'), 'extended (record)');
});

test('a duplicate key and a failed check do not list a masked value (class 23)', async () => {
  const dup = await attack('INSERT INTO vault SELECT id + 10, code FROM vault', '23505');
  assert.equal(dup.D, 'Key (code)=([REDACTED]) already exists.');
  assert.match(dup.M!, /^duplicate key value violates unique constraint "vault_code_key"$/, 'the constraint is named');
  const check = await attack('INSERT INTO short_codes SELECT code FROM vault', '23514');
  assert.equal(check.D, 'Failing row contains ([REDACTED]).');
});

test('other errors keep their quoted names; the session goes on', async () => {
  const answers = await client.roundTrip({ type: 'Query', text: 'SELECT * FROM no_such_table' });
  const err = answers.find((m) => m.type === 'ErrorResponse');
  assert.ok(err && err.type === 'ErrorResponse');
  assert.equal(err.fields.M, 'relation "no_such_table" does not exist');
  const ok = await client.roundTrip({ type: 'Query', text: 'SELECT count(*) FROM vault' });
  assert.ok(ok.some((m) => m.type === 'CommandComplete'));
});
