// Attacks on the MySQL protocol's session state, at the wire level: the gateway must judge
// and record what the SERVER runs. Prepared statement ids exist once the server's
// COM_STMT_PREPARE OK assigned them; an id it never gave, or closed, is opaque; the
// default database follows the server's answers; a file the server asks for goes only
// for a LOAD DATA LOCAL a rule allowed. Each test asserts the ground truth on the server
// (rows intact) and what the record says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { rawMysqlConnect, type RawMysql } from '../helpers/raw-mysql.ts';
import { commandsOf, resultsOf } from '../helpers/records.ts';
import { COM } from '../../src/protocols/mysql/constants.ts';
import { framePacket } from '../../src/protocols/mysql/packets.ts';

let t: TestGateway;
const db = `warden_myst_${process.pid}`;
const other = `${db}_other`;
const direct = (sql: string) => run('mysql', ['-h', '127.0.0.1', '-uroot', '-N', '-B', '-e', sql]);
const count = async (table = 't') => Number((await direct(`SELECT count(*) FROM ${db}.${table}`)).stdout.trim());

before(async () => {
  const r = await direct(
    `DROP DATABASE IF EXISTS ${db}; DROP DATABASE IF EXISTS ${other}; CREATE DATABASE ${db}; CREATE DATABASE ${other};` +
      `CREATE TABLE ${db}.t (id int, email varchar(100)); INSERT INTO ${db}.t VALUES (1,'a@example.com'),(2,'b@example.com'),(3,'c@example.com');` +
      `CREATE TABLE ${db}.secrets (v text); INSERT INTO ${db}.secrets VALUES ('public');` +
      `CREATE TABLE ${other}.secrets (v text); INSERT INTO ${other}.secrets VALUES ('classified');` +
      `CREATE TABLE ${db}.loaded (line text);`,
  );
  assert.equal(r.code, 0, r.stderr);
  t = await startTestGateway({
    connections: [
      localMysql('state', { database: db, onUnknown: 'block' }),
      localMysql('loader', { database: db, onUnknown: 'block', rules: [{ name: 'load-a', match: { kinds: ['copy'], tables: ['loaded'] }, action: 'allow' }] }),
    ],
    rules: [
      { name: 'hold-deletes', match: { kinds: ['delete'] }, action: 'review', review: { groups: ['dba'] } },
      { name: 'no-truncate', match: { kinds: ['truncate'] }, action: 'block' },
      { name: 'other-secrets', match: { tables: [`${other}.secrets`] }, action: 'block' },
    ],
    gateway: { listen: { http: '127.0.0.1:0', postgres: '127.0.0.1:0', mysql: '127.0.0.1:0' }, maxMessageBytes: 64 * 1024 },
  });
});
after(async () => {
  await t?.close();
  await direct(`DROP DATABASE IF EXISTS ${db}; DROP DATABASE IF EXISTS ${other}`);
});

async function connect(name: string, connection = 'state'): Promise<RawMysql> {
  return rawMysqlConnect(t.mysqlPort, connection, await t.token(['dev'], name));
}

const prepareFrame = (sql: string) => framePacket(Buffer.concat([Buffer.from([COM.STMT_PREPARE]), Buffer.from(sql)]), 0);
function executeFrame(id: number): Buffer {
  const p = Buffer.alloc(10);
  p[0] = COM.STMT_EXECUTE;
  p.writeUInt32LE(id >>> 0, 1);
  p.writeUInt32LE(1, 6);
  return framePacket(p, 0);
}

test("an execute pipelined behind its prepare (MariaDB's id 0xFFFFFFFF, the statement prepared last) is judged as what the server prepared", async () => {
  const c = await connect('pipelined');
  try {
    // one write: the gateway must wait for the server's answer before it can judge the execute
    c.sendRaw(Buffer.concat([prepareFrame('DELETE FROM t'), executeFrame(0xffffffff)]));
    const ok = await c.next();
    assert.equal(ok.payload[0], 0x00, 'the prepare is allowed (nothing would be blocked)');
    const err = await c.next();
    assert.equal(err.payload[0], 0xff);
    assert.match(err.payload.toString('utf8', 9), /warden: .*review/i);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3, 'the DELETE did not run');
  const exec = (await commandsOf(t, 'pipelined')).find((e) => e.data.via === 'execute')!;
  assert.equal(exec.data.text, 'DELETE FROM t', 'the record names what the server would have run');
  assert.equal(exec.data.decision, 'review');
});

test('after a failed prepare, 0xFFFFFFFF names nothing the gateway knows', async () => {
  const c = await connect('last-prepared');
  try {
    const first = await c.prepare('SELECT 1');
    assert.ok(!('error' in first));
    const failed = await c.prepare('DELETE FROM no_such_table_at_all');
    assert.ok('error' in failed, 'the server refuses the prepare');
    c.sendRaw(executeFrame(0xffffffff));
    const err = await c.next();
    assert.equal(err.payload[0], 0xff);
    assert.match(err.payload.toString('utf8', 9), /warden: blocked: COM_STMT_EXECUTE of statement id 4294967295/);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
});

test('an id the server never gave, or one closed, is opaque: never judged as another statement', async () => {
  const c = await connect('confused');
  try {
    const a = await c.prepare('SELECT 1');
    assert.ok(!('error' in a));
    c.send(Buffer.concat([Buffer.from([COM.STMT_CLOSE]), Buffer.from(Uint32Array.of(a.id).buffer)]));
    const del = await c.prepare('DELETE FROM t');
    assert.ok(!('error' in del));
    let r = await c.execute(a.id);
    assert.match(r.error?.message ?? '', /warden: blocked: COM_STMT_EXECUTE of statement id \d+, which the target did not prepare/);
    r = await c.execute(del.id + 1000);
    assert.match(r.error?.message ?? '', /warden: blocked: COM_STMT_EXECUTE of statement id \d+/);
    r = await c.query('SELECT 42');
    assert.deepEqual(r.results, [[['42']]], 'the session goes on');
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
  const cmds = await commandsOf(t, 'confused');
  const opaque = cmds.filter((e) => e.data.via === 'execute');
  assert.equal(opaque.length, 2);
  for (const e of opaque) {
    assert.equal(e.data.decision, 'block');
    assert.equal(e.data.text, '', 'an unknown id is recorded as opaque, not as some text');
  }
});

test('a prepare that would be blocked never reaches the server', async () => {
  const c = await connect('prep-block');
  try {
    const r = await c.prepare('TRUNCATE TABLE t');
    assert.ok('error' in r);
    assert.match(r.error.message, /warden: blocked: .*no-truncate/);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
});

test('SQL PREPARE and EXECUTE: the EXECUTE is judged as the body', async () => {
  const c = await connect('sql-prepare');
  try {
    let r = await c.query("PREPARE d FROM 'DELETE FROM t'");
    assert.match(r.error?.message ?? '', /review/, 'the body is judged at PREPARE');
    r = await c.query('EXECUTE d');
    assert.match(r.error?.message ?? '', /review/, 'judged as every body prepared under the name');
    r = await c.query('EXECUTE never_prepared');
    assert.match(r.error?.message ?? '', /warden: blocked: EXECUTE of prepared statement "never_prepared"/);
  } finally {
    c.close();
  }
  assert.equal(await count(), 3);
});

test('USE, COM_INIT_DB: an unqualified name is judged in the database the server says is current', async () => {
  const c = await connect('use-db');
  try {
    let r = await c.query('SELECT v FROM secrets');
    assert.deepEqual(r.results, [[['public']]], 'secrets of the default database');
    r = await c.query(`USE ${other}`);
    assert.equal(r.error, undefined);
    r = await c.query('SELECT v FROM secrets');
    assert.match(r.error?.message ?? '', /warden: blocked: .*other-secrets/);
    c.send(Buffer.concat([Buffer.from([COM.INIT_DB]), Buffer.from(db)]));
    assert.equal((await c.next()).payload[0], 0x00);
    r = await c.query('SELECT v FROM secrets');
    assert.deepEqual(r.results, [[['public']]], 'back in the first database');
    r = await c.query(`USE ${other}; SELECT v FROM secrets`);
    assert.match(r.error?.message ?? '', /warden: blocked/, 'in one text too');
    r = await c.query(`USE nonexistent_db_${process.pid}`);
    assert.ok(r.error, 'a USE the server refused');
    r = await c.query('SELECT v FROM secrets');
    assert.deepEqual(r.results, [[['public']]], 'the database did not change');
  } finally {
    c.close();
  }
});

test('LOCAL INFILE: refused unless a rule allows the statement, and then only the file it names', async () => {
  const c = await connect('infile');
  try {
    const r = await c.query(`LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE loaded`);
    assert.match(r.error?.message ?? '', /warden: blocked: LOAD DATA LOCAL/);
  } finally {
    c.close();
  }
  assert.equal(await count('loaded'), 0);
  const l = await connect('infile-allowed', 'loader');
  try {
    l.send(Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from(`LOAD DATA LOCAL INFILE 'lines.txt' INTO TABLE loaded`)]));
    const ask = await l.next();
    assert.equal(ask.payload[0], 0xfb, 'the server asks for the file and the gateway passes the request on');
    assert.equal(ask.payload.toString('utf8', 1), 'lines.txt');
    l.send(Buffer.from('one\ntwo\n'), ask.seq + 1);
    l.send(Buffer.alloc(0), ask.seq + 2);
    const ok = await l.next();
    assert.equal(ok.payload[0], 0x00);
  } finally {
    l.close();
  }
  assert.equal(await count('loaded'), 2);
});

test('COM_CHANGE_USER is refused and the session goes on', async () => {
  const c = await connect('change-user');
  try {
    c.send(Buffer.concat([Buffer.from([COM.CHANGE_USER]), Buffer.from('root\0\0')]));
    const err = await c.next();
    assert.equal(err.payload[0], 0xff);
    assert.match(err.payload.toString('utf8', 9), /COM_CHANGE_USER is refused/);
    const r = await c.query('SELECT CURRENT_USER()');
    assert.equal(r.error, undefined);
  } finally {
    c.close();
  }
});

test('unknown commands are refused in place; malformed and oversized packets close that connection only', async () => {
  const bystander = await connect('bystander');
  try {
    const a = await connect('odd-command');
    a.send(Buffer.from([0x99]));
    assert.match((await a.next()).payload.toString('utf8', 9), /command 0x99 is not supported/);
    assert.equal((await a.query('SELECT 1')).error, undefined);
    a.close();

    const big = await connect('oversized');
    const header = Buffer.from([0xff, 0xff, 0x0f, 0x00]); // 1 MiB declared, above maxMessageBytes
    big.sendRaw(Buffer.concat([header, Buffer.alloc(100, 0x41)]));
    await big.whenClosed();

    const cut = await connect('short-execute');
    cut.send(Buffer.from([COM.STMT_EXECUTE, 1]));
    const err = await cut.next();
    assert.equal(err.payload[0], 0xff);
    await cut.whenClosed();

    const order = await connect('out-of-order');
    order.send(Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from('SELECT 1')]), 5);
    await order.whenClosed();

    assert.deepEqual((await bystander.query('SELECT 7')).results, [[['7']]], 'other sessions go on');
  } finally {
    bystander.close();
  }
});

test("KILL reaches the caller's own session on the target; another's, or an id of the target, is refused", async () => {
  // the mysql client's Ctrl-C: a second connection with the same token
  const token = await t.token(['dev'], 'killer');
  const a = await rawMysqlConnect(t.mysqlPort, 'state', token);
  const b = await rawMysqlConnect(t.mysqlPort, 'state', token);
  const stranger = await connect('stranger');
  try {
    a.send(Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from('SELECT SLEEP(30)')]));
    let r = await stranger.query(`KILL QUERY ${a.connectionId}`);
    assert.match(r.error?.message ?? '', /not one of your sessions/);
    r = await b.query('KILL QUERY 1');
    assert.match(r.error?.message ?? '', /(not a session of this gateway|not one of your sessions)/);
    r = await b.query(`SELECT 1; KILL QUERY ${a.connectionId}`);
    assert.match(r.error?.message ?? '', /KILL is accepted alone/);
    r = await b.query(`KILL QUERY ${a.connectionId}`);
    assert.equal(r.error, undefined, 'the caller may cancel its own query');
    // the interrupted SLEEP(): MariaDB ends the result with ER_QUERY_INTERRUPTED (MySQL returns 1)
    const header = await a.next(20_000);
    assert.notEqual(header.payload[0], 0xff);
    await a.next(); // column
    await a.next(); // EOF
    const end = await a.next();
    if (end.payload[0] === 0xff) assert.equal(end.payload.readUInt16LE(1), 1317);
    else assert.equal(end.payload.toString('utf8', 1), '1');
  } finally {
    a.close();
    b.close();
    stranger.close();
  }
  const kill = (await commandsOf(t, 'killer')).find((e) => String(e.data.via).startsWith('kill of gateway connection'))!;
  assert.match(String(kill.data.text), /^KILL QUERY \d+$/, 'the record holds what ran: the target\'s id');
});

test("reading the session's state back never changes what the client reads: ROW_COUNT() after EXECUTE", async () => {
  const c = await connect('row-count');
  try {
    assert.equal((await c.query("PREPARE u FROM 'UPDATE t SET email = CONCAT(email, \\'\\') WHERE id <= 2 AND email <> \\'x\\''")).error, undefined);
    await c.query("CREATE TEMPORARY TABLE tmp (n int)");
    assert.equal((await c.query("PREPARE i FROM 'INSERT INTO tmp VALUES (1), (2), (3)'")).error, undefined);
    const r = await c.query('EXECUTE i');
    assert.deepEqual(r.oks, [3]);
    // the EXECUTE may have changed anything: the gateway reads the state back, but not before this
    assert.deepEqual((await c.query('SELECT ROW_COUNT()')).results, [[['3']]]);
    // ... and before the next statement that names a table
    assert.deepEqual((await c.query('SELECT count(*) FROM tmp')).results, [[['3']]]);
  } finally {
    c.close();
  }
});

test('COM_RESET_CONNECTION drops the prepared statements on the server: their ids are opaque after it', async () => {
  const c = await connect('reset-conn');
  try {
    const s = await c.prepare('SELECT 1');
    assert.ok(!('error' in s));
    c.send(Buffer.from([COM.RESET_CONNECTION]));
    assert.equal((await c.next()).payload[0], 0x00);
    const r = await c.execute(s.id);
    assert.match(r.error?.message ?? '', /warden: blocked: COM_STMT_EXECUTE of statement id/);
  } finally {
    c.close();
  }
});

test('COM_STMT_SEND_LONG_DATA: the parameter sent apart is in the record, and the row it makes is masked', async () => {
  const c = await connect('long-data');
  try {
    const s = await c.prepare('SELECT CONCAT(?, \'\') AS v');
    assert.ok(!('error' in s));
    const long = Buffer.concat([Buffer.from([COM.STMT_SEND_LONG_DATA]), Buffer.from(Uint32Array.of(s.id).buffer), Buffer.from([0, 0]), Buffer.from('mail ann@example.com')]);
    c.send(long);
    const exec = Buffer.alloc(14);
    exec[0] = COM.STMT_EXECUTE;
    exec.writeUInt32LE(s.id, 1);
    exec.writeUInt32LE(1, 6);
    exec[10] = 0; // NULL bitmap
    exec[11] = 1; // types follow
    exec[12] = 253; // VAR_STRING, its value sent apart
    c.send(exec);
    const packets = [];
    for (let i = 0; i < 5; i++) packets.push((await c.next()).payload);
    const row = packets[3]!;
    assert.match(row.toString('latin1'), /mail \[EMAIL\]/);
    assert.doesNotMatch(row.toString('latin1'), /ann@example/);
  } finally {
    c.close();
  }
  const exec = (await commandsOf(t, 'long-data')).find((e) => e.data.via === 'execute')!;
  assert.deepEqual(exec.data.params, ['mail ann@example.com']);
});

test('COM_FIELD_LIST is judged as SHOW COLUMNS of its table', async () => {
  const c = await connect('field-list');
  try {
    c.send(Buffer.concat([Buffer.from([COM.FIELD_LIST]), Buffer.from(`t\0`)]));
    let p = await c.next();
    let n = 0;
    while (p.payload[0] !== 0xfe) {
      n++;
      p = await c.next();
    }
    assert.equal(n, 2, 'two column definitions, then EOF');
  } finally {
    c.close();
  }
  const cmd = (await commandsOf(t, 'field-list')).find((e) => e.data.via === 'field-list')!;
  assert.equal(cmd.data.text, 'SHOW COLUMNS FROM `t`');
});

test('a prepared statement is judged in the database it was prepared in, where the server resolved its names', async () => {
  const c = await connect('prepared-db');
  try {
    const s = await c.prepare('SELECT v FROM secrets');
    assert.ok(!('error' in s));
    assert.equal((await c.query(`USE ${other}`)).error, undefined);
    const r = await c.execute(s.id);
    assert.equal(r.error, undefined, 'still the first database\'s secrets, which no rule names');
    assert.match(r.results[0]![0]![0]!, /public/);
    const blocked = await c.prepare('SELECT v FROM secrets');
    assert.ok('error' in blocked && /other-secrets/.test(blocked.error.message), 'prepared in the other database: blocked before the server sees it');
  } finally {
    c.close();
  }
});

test('a cursor (COM_STMT_EXECUTE with a cursor, then COM_STMT_FETCH): its rows are masked and recorded with the execute', async () => {
  const c = await connect('cursor');
  try {
    const s = await c.prepare('SELECT email FROM t ORDER BY id');
    assert.ok(!('error' in s));
    const exec = Buffer.alloc(10);
    exec[0] = COM.STMT_EXECUTE;
    exec.writeUInt32LE(s.id, 1);
    exec[5] = 1; // CURSOR_TYPE_READ_ONLY
    exec.writeUInt32LE(1, 6);
    c.send(exec);
    const head = [await c.next(), await c.next(), await c.next()]; // column count, column, EOF (cursor open)
    assert.equal(head[2]!.payload[0], 0xfe);
    const fetch = Buffer.alloc(9);
    fetch[0] = COM.STMT_FETCH;
    fetch.writeUInt32LE(s.id, 1);
    fetch.writeUInt32LE(2, 5);
    c.send(fetch);
    const rows = [await c.next(), await c.next()];
    for (const r of rows) assert.match(r.payload.toString('latin1'), /\[EMAIL\]/);
    assert.equal((await c.next()).payload[0], 0xfe);
    const none = await c.query('SELECT 1');
    assert.equal(none.error, undefined, 'the session goes on');
  } finally {
    c.close();
  }
  const all = await resultsOf(t, 'cursor');
  assert.ok(all.some((e) => JSON.stringify(e.data.rows ?? []).includes('[EMAIL]')));
  assert.ok(!JSON.stringify(all).includes('@example.com'));
});
