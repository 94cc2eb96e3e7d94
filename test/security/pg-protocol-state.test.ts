// Attacks on the extended protocol's named objects, at the wire level: the gateway must
// judge and record what the SERVER runs, whose view of statement and portal names changes
// only when it acknowledges (a Parse of an existing name fails and keeps the old text; after
// an error the server skips to Sync; a simple query drops the unnamed statement). Each test
// asserts the ground truth on the server (rows intact) and what the record says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { errorsOf, rawConnect, rowsOf, tagsOf, type RawPg } from '../helpers/raw-pg.ts';
import { commandsOf } from '../helpers/records.ts';
import type { FrontendMessage } from '../../src/protocols/postgres/messages.ts';

let t: TestGateway;
const table = `warden_state_${process.pid}`;
const direct = (sql: string) => run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', '-c', sql]);
const count = async () => Number((await direct(`SELECT count(*) FROM ${table}`)).stdout.trim());

const parse = (name: string, text: string): FrontendMessage => ({ type: 'Parse', name, text, paramTypes: [] });
const bind = (portal: string, statement: string, resultFormats: number[] = []): FrontendMessage => ({ type: 'Bind', portal, statement, paramFormats: [], params: [], resultFormats });
const execute = (portal = ''): FrontendMessage => ({ type: 'Execute', portal, maxRows: 0 });
const describePortal = (name = ''): FrontendMessage => ({ type: 'Describe', target: 'P', name });
const close = (target: 'S' | 'P', name: string): FrontendMessage => ({ type: 'Close', target, name });
const query = (text: string): FrontendMessage => ({ type: 'Query', text });
const sync: FrontendMessage = { type: 'Sync' };

before(async () => {
  await direct(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id int, email text); INSERT INTO ${table} SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 3) g`);
  t = await startTestGateway({
    connections: [localPostgres('state', { onUnknown: 'block' })],
    rules: [
      { name: 'hold-deletes', match: { kinds: ['delete'] }, action: 'review', review: { groups: ['dba'] } },
      { name: 'no-truncate', match: { kinds: ['truncate'] }, action: 'block' },
    ],
  });
});
after(async () => {
  await t.close();
  await direct(`DROP TABLE IF EXISTS ${table}`);
});

async function connect(name: string): Promise<RawPg> {
  return rawConnect(t.pgPort, 'state', await t.token(['dev'], name));
}

test('a Parse that reuses a name fails on the server and keeps the old text: the Execute is judged as the old text', async () => {
  const c = await connect('reuse');
  try {
    let a = await c.roundTrip(parse('s1', `DELETE FROM ${table}`), sync);
    assert.deepEqual(errorsOf(a), []);
    a = await c.roundTrip(parse('s1', 'SELECT 1'), sync);
    assert.match(errorsOf(a)[0]!, /already exists/);
    a = await c.roundTrip(bind('', 's1'), execute(), sync);
    assert.match(errorsOf(a)[0] ?? '', /warden: .*review/i);
    assert.deepEqual(tagsOf(a), []);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3, 'the DELETE did not run');
  const cmds = await commandsOf(t, 'reuse');
  const exec = cmds.find((e) => e.data.via === 'extended')!;
  assert.equal(exec.data.text, `DELETE FROM ${table}`, 'the record names what the server would have run');
  assert.equal(exec.data.decision, 'review');
});

test('the same attack pipelined in one write: Warden waits for the answers before judging', async () => {
  const c = await connect('pipelined');
  try {
    c.send(parse('s2', `DELETE FROM ${table}`), sync, parse('s2', 'SELECT 1'), sync, bind('', 's2'), execute(), sync);
    const a = await c.untilReady(3);
    const errors = errorsOf(a);
    assert.match(errors[0]!, /already exists/);
    assert.match(errors[1]!, /warden: .*review/i);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
  const exec = (await commandsOf(t, 'pipelined')).find((e) => e.data.via === 'extended')!;
  assert.equal(exec.data.text, `DELETE FROM ${table}`);
});

test('a Close the server skipped after an error does not close the statement in Warden\'s view', async () => {
  const c = await connect('skipped-close');
  try {
    await c.roundTrip(parse('s3', `DELETE FROM ${table}`), sync);
    // The bad Parse fails; the server skips the Close up to Sync: s3 still exists.
    let a = await c.roundTrip(parse('', 'SELEC oops'), close('S', 's3'), sync);
    assert.match(errorsOf(a)[0]!, /syntax error/);
    a = await c.roundTrip(parse('s3', 'SELECT 1'), sync);
    assert.match(errorsOf(a)[0]!, /already exists/);
    a = await c.roundTrip(bind('', 's3'), execute(), sync);
    assert.match(errorsOf(a)[0] ?? '', /warden: .*review/i);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
});

test('an Execute of a portal Warden cannot resolve is opaque (onUnknown), never empty text', async () => {
  const c = await connect('unknown-portal');
  try {
    const a = await c.roundTrip(execute('nobody'), sync);
    assert.match(errorsOf(a)[0]!, /warden: blocked: .*portal "nobody"/);
  } finally {
    c.close();
  }
  const cmd = (await commandsOf(t, 'unknown-portal'))[0]!;
  assert.equal(cmd.data.decision, 'block');
  assert.match(String(cmd.data.opaque), /does not exist/);
});

test('a statement PREPAREd in SQL and bound by the protocol is judged as its body, its rows masked', async () => {
  const c = await connect('sql-prepare');
  try {
    // PREPARE of a DELETE is judged as the DELETE (held); the body never becomes a name.
    let a = await c.roundTrip(query(`PREPARE wipe AS DELETE FROM ${table}`));
    assert.match(errorsOf(a)[0] ?? '', /warden: .*review/i);
    a = await c.roundTrip(bind('', 'wipe'), execute(), sync);
    assert.match(errorsOf(a)[0] ?? '', /warden: blocked: .*does not exist|prepared statement "wipe" does not exist/);
    // An allowed PREPARE: executed through the protocol, judged as EXECUTE of it, rows masked.
    a = await c.roundTrip(query(`PREPARE mails AS SELECT email FROM ${table} ORDER BY id`));
    assert.deepEqual(errorsOf(a), []);
    a = await c.roundTrip(bind('', 'mails'), execute(), sync);
    assert.deepEqual(errorsOf(a), []);
    assert.equal(rowsOf(a).length, 3);
    for (const [v] of rowsOf(a)) assert.doesNotMatch(v!, /@example\.com/);
    // After DEALLOCATE ALL the name is gone for the server and for Warden alike.
    await c.roundTrip(query('DEALLOCATE ALL'));
    a = await c.roundTrip(bind('', 'mails'), execute(), sync);
    assert.equal(errorsOf(a).length, 1);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
  const exec = (await commandsOf(t, 'sql-prepare')).filter((e) => e.data.via === 'extended');
  assert.ok(exec.some((e) => e.data.text === 'EXECUTE "mails"' && e.data.decision === 'allow'));
});

test('a blocked statement is refused at Parse and never prepared', async () => {
  const c = await connect('blocked-parse');
  try {
    let a = await c.roundTrip(parse('t1', `TRUNCATE ${table}`), sync);
    assert.match(errorsOf(a)[0]!, /warden: blocked/);
    // The server never prepared it: binding it fails on the server itself.
    a = await c.roundTrip(bind('', 't1'), execute(), sync);
    assert.match(errorsOf(a)[0]!, /prepared statement "t1" does not exist|warden: blocked/);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
  const parsed = (await commandsOf(t, 'blocked-parse')).find((e) => e.data.via === 'parse')!;
  assert.equal(parsed.data.decision, 'block');
  assert.equal(parsed.data.rule, 'no-truncate');
});

test('rows of an Execute the client never described are still masked', async () => {
  const c = await connect('no-describe');
  try {
    const a = await c.roundTrip(parse('', `SELECT email FROM ${table} ORDER BY id`), bind('', ''), execute(), sync);
    const rows = rowsOf(a);
    assert.equal(rows.length, 3);
    for (const [v] of rows) assert.doesNotMatch(v!, /@example\.com/);
    // The Describe Warden added is not shown to the client.
    assert.equal(a.filter((m) => m.type === 'RowDescription').length, 0);
  } finally {
    c.close();
  }
});

test('a Describe of another portal does not decide how an Execute\'s rows are masked', async () => {
  const c = await connect('other-describe');
  try {
    // p1 is harmless text; p2 returns emails in binary format. Describe p1, then Execute p2.
    const a = await c.roundTrip(
      parse('harmless', "SELECT 'nothing here'::text AS note"),
      parse('leaky', `SELECT email AS note FROM ${table} ORDER BY id`),
      bind('p1', 'harmless'),
      bind('p2', 'leaky', [1]),
      describePortal('p1'),
      execute('p2'),
      sync,
    );
    const rows = rowsOf(a);
    assert.equal(rows.length, 3);
    for (const [v] of rows) assert.doesNotMatch(v!, /@example\.com/);
  } finally {
    c.close();
  }
});

test('a SQL cursor executed through the protocol is judged as a FETCH and its rows masked', async () => {
  const c = await connect('cursor');
  try {
    await c.roundTrip(query('BEGIN'));
    await c.roundTrip(query(`DECLARE cur CURSOR FOR SELECT email FROM ${table} ORDER BY id`));
    const a = await c.roundTrip(execute('cur'), sync);
    const rows = rowsOf(a);
    assert.equal(rows.length, 3);
    for (const [v] of rows) assert.doesNotMatch(v!, /@example\.com/);
    await c.roundTrip(query('COMMIT'));
  } finally {
    c.close();
  }
  const fetch = (await commandsOf(t, 'cursor')).find((e) => e.data.via === 'extended')!;
  assert.match(String(fetch.data.text), /^FETCH FORWARD ALL FROM "cur"/);
});

test('drivers that pipeline named statements keep working (postgres.js-style windows)', async () => {
  const c = await connect('pipeline-ok');
  try {
    // first use of a named statement and its reuse in the next window, all in one write
    const bindWith = (v: string): FrontendMessage => ({ type: 'Bind', portal: '', statement: 'q1', paramFormats: [], params: [Buffer.from(v)], resultFormats: [] });
    c.send(parse('q1', 'SELECT $1::int + 1 AS n'), bindWith('1'), describePortal(''), execute(), sync, bindWith('41'), describePortal(''), execute(), sync);
    const a = await c.untilReady(2);
    assert.deepEqual(errorsOf(a), []);
    assert.deepEqual(rowsOf(a), [['2'], ['42']]);
  } finally {
    c.close();
  }
});

test('with standard_conforming_strings off, a text whose backslashes the server reads otherwise is opaque', async () => {
  const attack = `SELECT 'a\\', ' ; DELETE FROM ${table}; -- '`;
  const c = await connect('scs-off');
  try {
    let a = await c.roundTrip(query('SET standard_conforming_strings = off'));
    assert.deepEqual(errorsOf(a), []);
    a = await c.roundTrip(query(attack));
    assert.match(errorsOf(a)[0] ?? '', /warden: blocked: .*standard_conforming_strings/);
    // The same in one write behind the SET: the change is not answered yet when it is judged.
    await c.roundTrip(query('RESET standard_conforming_strings'));
    c.send(query('SET standard_conforming_strings = off'), query(attack));
    a = await c.untilReady(2);
    assert.match(errorsOf(a)[0] ?? '', /warden: blocked: .*standard_conforming_strings/);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3, 'the DELETE hidden in the string did not run');
});

// Found by `npm run fuzz` (test/fuzz-cases/relay-2032.json). The error of a refused Execute
// (Warden injects a raising Parse/Bind/Execute in its place) was taken by the server-state
// model for the error of the Query behind it; the server skipped that Query and a Parse
// after it, the model kept the Parse pending and gave the next ParseComplete its text. So
// `s` was SELECT 1 in Warden's view, DELETE on the server, and its Execute judged as SELECT 1.
test('a refused Execute followed by a Query and a Parse: the skipped Parse does not name the statement', async () => {
  const c = await connect('refused-then-query');
  try {
    c.send(execute('no_such_portal'), query('SELECT 1'), parse('s9', 'SELECT 1'), sync);
    let a = await c.untilReady(1);
    assert.match(errorsOf(a)[0] ?? '', /warden: blocked/);
    a = await c.roundTrip(parse('s9', `DELETE FROM ${table}`), sync);
    assert.deepEqual(errorsOf(a), []);
    c.send(bind('', 's9'), execute(), sync);
    a = await c.untilReady(1).catch(() => []);
    assert.match(errorsOf(a)[0] ?? '', /warden: .*review/i, 'the Execute is judged as the DELETE the server holds');
  } finally {
    c.close();
  }
  assert.equal(await count(), 3, 'the DELETE did not run');
  const exec = (await commandsOf(t, 'refused-then-query')).filter((e) => e.data.via === 'extended' && e.data.text !== '');
  assert.deepEqual(exec.map((e) => [e.data.text, e.data.decision]), [[`DELETE FROM ${table}`, 'review']]);
});

// Found by `npm run fuzz` (test/fuzz-cases/relay-2.json): after an error with no Sync on its
// way (the client sent Flush and read the error), the server skips what comes next up to
// a Sync; Warden expected answers to those messages and ended the session as out of step.
test('messages sent after an error and before the next Sync are skipped by the server, and by Warden', async () => {
  const c = await connect('skip-to-sync');
  try {
    c.send(bind('', 'no_such_statement'), { type: 'Flush' });
    let a = await c.next(1);
    assert.match(errorsOf(a)[0] ?? '', /does not exist/);
    c.send(parse('s10', `DELETE FROM ${table}`), bind('', 's10'), execute(), sync);
    a = await c.untilReady(1);
    assert.deepEqual(a.map((m) => m.type), ['ReadyForQuery'], 'the server skipped all of it');
    // the session goes on, and s10 was never made
    a = await c.roundTrip(query('SELECT 7'));
    assert.deepEqual(rowsOf(a), [['7']]);
    a = await c.roundTrip(bind('', 's10'), execute(), sync);
    assert.match(errorsOf(a)[0] ?? '', /does not exist|warden/);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
});

test('what follows a Terminate in the same write is neither judged, recorded nor forwarded (the server never reads it)', async () => {
  const c = await connect('terminate');
  c.send(query('SELECT 41'), { type: 'Terminate' }, query('SELECT 42'), query(`TRUNCATE ${table}`));
  await c.untilReady(1).catch(() => []);
  for (let i = 0; i < 50 && !c.closed; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(c.closed, 'the gateway closed the session');
  c.close();
  assert.equal(await count(), 3);
  const texts = (await commandsOf(t, 'terminate')).map((e) => e.data.text);
  assert.deepEqual(texts, ['SELECT 41'], 'only what the server read is recorded');
});
