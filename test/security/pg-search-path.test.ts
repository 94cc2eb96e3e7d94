// Names resolve the way the server resolves them: a rule that allows `public.*` must not let
// an unqualified name through after the session moved its search path to another schema
// (SET, SET LOCAL, set_config, the startup packet, several statements in one string).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { commandsOf } from '../helpers/records.ts';
import { errorsOf, rawConnect, rowsOf } from '../helpers/raw-pg.ts';

let t: TestGateway;
const schema = `warden_sp_${process.pid}`;
const table = `warden_sp_keys_${process.pid}`;
const direct = (sql: string) => run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql]);

before(async () => {
  // The same table name in public (harmless) and in a schema the rules do not allow (secret).
  await direct(
    `DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; ` +
      `CREATE TABLE ${schema}.${table} (v text); INSERT INTO ${schema}.${table} VALUES ('the secret'); ` +
      `DROP TABLE IF EXISTS public.${table}; CREATE TABLE public.${table} (v text); INSERT INTO public.${table} VALUES ('public data')`,
  );
  t = await startTestGateway({
    connections: [localPostgres('sp')],
    rules: [
      { name: 'public-only', match: { tables: ['public.*'] }, action: 'allow' },
      { name: 'session-settings', match: { kinds: ['set', 'show', 'transaction'] }, action: 'allow' },
      { name: 'set-config', match: { functions: ['set_config'] }, action: 'allow' },
      { name: 'nothing-else', match: {}, action: 'block', message: 'only public tables here' },
    ],
  });
});
after(async () => {
  await t.close();
  await direct(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP TABLE IF EXISTS public.${table}`);
});

async function client(name: string, options: Partial<pg.ClientConfig> = {}) {
  const c = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'sp', password: await t.token(['dev'], name), database: 'sp', ...options });
  await c.connect();
  return c;
}

const read = (c: pg.Client) => c.query(`SELECT v FROM ${table}`).then((r) => r.rows.map((x) => x.v as string));

test('the default path reads public; SET search_path to another schema makes the same name refused', async () => {
  const c = await client('sp-set');
  try {
    assert.deepEqual(await read(c), ['public data']);
    await c.query(`SET search_path TO ${schema}`);
    await assert.rejects(read(c), /warden: blocked: only public tables here/);
    await c.query('RESET search_path');
    assert.deepEqual(await read(c), ['public data']);
  } finally {
    await c.end();
  }
  const cmds = await commandsOf(t, 'sp-set');
  assert.equal(cmds.filter((e) => e.data.decision === 'block').length, 1);
});

test('set_config, SET LOCAL in a transaction, and its end', async () => {
  const c = await client('sp-config');
  try {
    await c.query(`SELECT pg_catalog.set_config('search_path', '${schema}', false)`);
    await assert.rejects(read(c), /warden: blocked/);
    await c.query(`SELECT set_config('search_path', 'public', false)`);
    assert.deepEqual(await read(c), ['public data']);
    await c.query('BEGIN');
    await c.query(`SET LOCAL search_path TO ${schema}`);
    await assert.rejects(read(c), /warden: blocked/);
    await c.query('ROLLBACK');
    // the transaction ended: its SET LOCAL is gone, and Warden asks again
    assert.deepEqual(await read(c), ['public data']);
  } finally {
    await c.end();
  }
});

test('a search path given in the startup packet', async () => {
  const c = await rawConnect(t.pgPort, 'sp', await t.token(['dev'], 'sp-startup'), { search_path: schema });
  try {
    const a = await c.roundTrip({ type: 'Query', text: `SELECT v FROM ${table}` });
    assert.match(errorsOf(a)[0] ?? '', /warden: blocked/);
    assert.deepEqual(rowsOf(a), []);
  } finally {
    c.close();
  }
});

test('several statements in one string: a name after a SET is not read in the old path', async () => {
  const c = await client('sp-multi');
  try {
    await assert.rejects(c.query(`SET search_path TO ${schema}; SELECT v FROM ${table}`), /warden: blocked/);
  } finally {
    await c.end();
  }
  // The secret was never returned, and the string was refused as a whole.
  const cmds = await commandsOf(t, 'sp-multi');
  assert.equal(cmds[0]!.data.decision, 'block');
});

test('a qualified name is judged as written, whatever the path', async () => {
  const c = await client('sp-qualified');
  try {
    await c.query(`SET search_path TO ${schema}`);
    const r = await c.query(`SELECT v FROM public.${table}`);
    assert.deepEqual(r.rows.map((x) => x.v), ['public data']);
    await assert.rejects(c.query(`SELECT v FROM ${schema}.${table}`), /warden: blocked/);
  } finally {
    await c.end();
  }
});

test('COPY of an unqualified table masks by the rules of the table the session\'s path finds', async () => {
  const people = `warden_sp_people_${process.pid}`;
  await direct(
    `CREATE TABLE ${schema}.${people} (id int, nickname text); INSERT INTO ${schema}.${people} VALUES (1, 'Shadowfax');` +
      `DROP TABLE IF EXISTS public.${people}; CREATE TABLE public.${people} (id int, nickname text); INSERT INTO public.${people} VALUES (1, 'Plain');`,
  );
  const g = await startTestGateway({ connections: [localPostgres('spcopy', { masking: { columns: [{ match: `${schema}.${people}.nickname` }] } })] });
  try {
    // psql runs each -c as its own query: the SET first, then the COPY in the path it set
    const r = await run('psql', [`host=127.0.0.1 port=${g.pgPort} user=spcopy dbname=x`, '-X', '-A', '-t', '-c', `SET search_path TO ${schema}`, '-c', `COPY ${people} TO STDOUT`], {
      env: { PGPASSWORD: await g.token(['dev'], 'sp-copy') },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /Shadowfax/);
    assert.match(r.stdout, /^1\t/m);
  } finally {
    await g.close();
    await direct(`DROP TABLE IF EXISTS public.${people}`);
  }
});
