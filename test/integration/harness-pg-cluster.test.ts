// Proves the private-cluster harness: each auth method is really forced by pg_hba.conf, the stored
// password hashes match it, and TLS 'require' refuses plain connections.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import { startPgCluster, type PgCluster, type PgUser } from '../helpers/pg-cluster.ts';
import { makeCertificate } from '../helpers/tls.ts';

type SslOpt = pg.ClientConfig['ssl'];

async function connect(c: PgCluster, user: PgUser, ssl?: SslOpt): Promise<pg.Client> {
  const client = new pg.Client({
    host: c.host,
    port: c.port,
    database: c.database,
    user: user.name,
    password: user.password,
    ssl,
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

async function query<R extends pg.QueryResultRow>(
  c: PgCluster,
  user: PgUser,
  sql: string,
  ssl?: SslOpt,
): Promise<R[]> {
  const client = await connect(c, user, ssl);
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

const refusedPassword = (err: unknown): boolean => {
  const e = err as { code?: string; message?: string };
  return e.code === '28P01' && /password authentication failed/.test(e.message ?? '');
};

/** The server logs `connection authenticated: identity="u" method=m` (log_connections=on). */
async function authLogged(c: PgCluster, user: string, method: string): Promise<boolean> {
  const needle = `connection authenticated: identity="${user}" method=${method}`;
  for (let i = 0; i < 50; i++) {
    if ((await readFile(c.logFile, 'utf8')).includes(needle)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** Every TCP rule in the live pg_hba.conf uses `method`, and nothing else. */
async function assertHbaForces(c: PgCluster, method: string, types: string[]): Promise<void> {
  const rules = await query<{ type: string; auth_method: string; address: string | null; error: string | null }>(
    c,
    c.superuser,
    'SELECT type, auth_method, address, error FROM pg_hba_file_rules ORDER BY line_number',
    c.caCert ? { ca: c.caCert } : undefined,
  );
  assert.ok(rules.every((r) => r.error === null), JSON.stringify(rules));
  const tcp = rules.filter((r) => r.type !== 'local');
  assert.deepEqual(
    tcp.map((r) => [r.type, r.address, r.auth_method]),
    types.map((t) => [t, '127.0.0.1', method]),
  );
  assert.deepEqual(
    rules.filter((r) => r.type === 'local').map((r) => r.auth_method),
    ['trust'],
  );
}

async function assertStoredHashes(c: PgCluster, prefix: string, encryption: string): Promise<void> {
  const ssl = c.caCert ? { ca: c.caCert } : undefined;
  const [enc] = await query<{ password_encryption: string }>(c, c.superuser, 'SHOW password_encryption', ssl);
  assert.equal(enc.password_encryption, encryption);
  const roles = await query<{ rolname: string; rolpassword: string }>(
    c,
    c.superuser,
    "SELECT rolname, rolpassword FROM pg_authid WHERE rolcanlogin AND rolname <> 'pg_signal_backend' ORDER BY rolname",
    ssl,
  );
  assert.deepEqual(roles.map((r) => r.rolname).sort(), ['postgres', ...c.users.map((u) => u.name)].sort());
  for (const r of roles) assert.ok(r.rolpassword.startsWith(prefix), `${r.rolname}: ${r.rolpassword.slice(0, 16)}`);
}

describe('pg-cluster harness: scram-sha-256', () => {
  let c: PgCluster;
  before(async () => {
    c = await startPgCluster({
      auth: 'scram-sha-256',
      users: [
        { name: 'alice', password: 's3cret-alice' },
        { name: 'Bob O\'Neil', password: "it's \\ a \"quoted\" pass" },
      ],
    });
  });
  after(() => c?.close());

  test('shape', () => {
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.database, 'postgres');
    assert.equal(c.superuser.name, 'postgres');
    assert.ok(c.port > 0 && c.port < 65536);
    assert.equal(c.caCert, undefined);
    assert.ok(c.startupMs > 0);
  });

  test('wrong password is refused, right one works', async () => {
    const alice = c.users[0];
    await assert.rejects(connect(c, { name: alice.name, password: 'wrong' }), refusedPassword);
    const [row] = await query<{ u: string }>(c, alice, 'SELECT current_user AS u');
    assert.equal(row.u, 'alice');
    assert.ok(await authLogged(c, 'alice', 'scram-sha-256'), 'server logged a SCRAM authentication');
    // the superuser goes through the same method over TCP
    await assert.rejects(connect(c, { name: 'postgres', password: 'wrong' }), refusedPassword);
  });

  test('users with awkward names/passwords can connect and create tables', async () => {
    const bob = c.users[1];
    const client = await connect(c, bob);
    try {
      await client.query('CREATE TABLE t (id int primary key, v text)');
      await client.query("INSERT INTO t VALUES (1, 'x')");
      const { rows } = await client.query('SELECT count(*)::int AS n FROM t');
      assert.equal(rows[0].n, 1);
    } finally {
      await client.end();
    }
  });

  test('postgres.js speaks SCRAM to it too', async () => {
    const alice = c.users[0];
    const sql = postgres({ host: c.host, port: c.port, database: c.database, user: alice.name, pass: alice.password, max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT ${41}::int + 1 AS n`;
      assert.equal(rows[0].n, 42);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  test('server forces SCRAM: pg_hba rules and stored hashes', async () => {
    await assertHbaForces(c, 'scram-sha-256', ['host']);
    await assertStoredHashes(c, 'SCRAM-SHA-256$', 'scram-sha-256');
  });

  test('stop() and start() simulate an upstream that dies and comes back', async () => {
    const alice = c.users[0];
    const client = await connect(c, alice);
    const ended = new Promise<void>((resolve) => client.once('error', () => resolve()));
    await c.stop('immediate');
    await ended;
    await client.end().catch(() => {});
    await assert.rejects(connect(c, alice));
    await c.start();
    const [row] = await query<{ n: number }>(c, alice, 'SELECT count(*)::int AS n FROM pg_stat_activity');
    assert.ok(row.n >= 1);
  });
});

describe('pg-cluster harness: md5', () => {
  let c: PgCluster;
  before(async () => {
    c = await startPgCluster({ auth: 'md5', users: [{ name: 'carol', password: 'md5-pass' }] });
  });
  after(() => c?.close());

  test('wrong password is refused, right one works', async () => {
    const carol = c.users[0];
    await assert.rejects(connect(c, { ...carol, password: 'nope' }), refusedPassword);
    const [row] = await query<{ u: string }>(c, carol, 'SELECT current_user AS u');
    assert.equal(row.u, 'carol');
    assert.ok(await authLogged(c, 'carol', 'md5'), 'server logged an md5 authentication');
  });

  test('server forces md5: pg_hba rules and md5 hashes', async () => {
    await assertHbaForces(c, 'md5', ['host']);
    await assertStoredHashes(c, 'md5', 'md5');
  });
});

describe('pg-cluster harness: password and trust', () => {
  let pw: PgCluster;
  let trust: PgCluster;
  before(async () => {
    [pw, trust] = await Promise.all([startPgCluster({ auth: 'password', ssl: true }), startPgCluster({ auth: 'trust' })]);
  });
  after(() => Promise.all([pw?.close(), trust?.close()]));

  test('password: default user, cleartext method enforced (over TLS or not)', async () => {
    assert.equal(pw.users.length, 1);
    const app = pw.users[0];
    assert.equal(app.name, 'app');
    await assert.rejects(connect(pw, { ...app, password: 'nope' }), refusedPassword);
    const [row] = await query<{ u: string }>(pw, app, 'SELECT current_user AS u');
    assert.equal(row.u, 'app');
    assert.ok(await authLogged(pw, 'app', 'password'));
    await assertHbaForces(pw, 'password', ['hostssl', 'host']);
  });

  test('ssl: true offers TLS but still accepts plain connections', async () => {
    const app = pw.users[0];
    const sslOf = (rows: { ssl: boolean }[]): boolean => rows[0].ssl;
    const q = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
    assert.equal(sslOf(await query<{ ssl: boolean }>(pw, app, q, false)), false);
    assert.equal(sslOf(await query<{ ssl: boolean }>(pw, app, q, { ca: pw.caCert })), true);
  });

  test('trust: any password is accepted', async () => {
    const [row] = await query<{ u: string }>(trust, { name: trust.users[0].name, password: 'whatever' }, 'SELECT current_user AS u');
    assert.equal(row.u, 'app');
    await assertHbaForces(trust, 'trust', ['host']);
  });

  test('clusters started in parallel get distinct ports and dirs', () => {
    assert.notEqual(pw.port, trust.port);
    assert.notEqual(pw.dataDir, trust.dataDir);
  });
});

describe("pg-cluster harness: ssl 'require'", () => {
  let c: PgCluster;
  before(async () => {
    c = await startPgCluster({ auth: 'scram-sha-256', ssl: 'require', users: [{ name: 'dave', password: 'tls-pass' }] });
  });
  after(() => c?.close());

  test('exposes the CA that signed the server certificate', async () => {
    assert.ok(c.caCert?.includes('BEGIN CERTIFICATE'));
    assert.equal(c.caCert, (await makeCertificate()).ca);
  });

  test('a plain connection is refused', async () => {
    await assert.rejects(connect(c, c.users[0], false), (err: Error) => {
      assert.match(err.message, /no pg_hba\.conf entry for host "127\.0\.0\.1".*no encryption/);
      return true;
    });
  });

  test('TLS without trusting the CA fails verification', async () => {
    await assert.rejects(connect(c, c.users[0], { rejectUnauthorized: true }), /self[- ]signed|unable to verify|unable to get local issuer/i);
  });

  test('TLS verified with the CA works, SCRAM on top, wrong password still refused', async () => {
    const dave = c.users[0];
    const ssl = { ca: c.caCert, rejectUnauthorized: true };
    await assert.rejects(connect(c, { ...dave, password: 'nope' }, ssl), refusedPassword);
    const [row] = await query<{ ssl: boolean; version: string; u: string }>(
      c,
      dave,
      'SELECT ssl, version, current_user AS u FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      ssl,
    );
    assert.equal(row.ssl, true);
    assert.match(row.version, /^TLSv1\.[23]$/);
    assert.equal(row.u, 'dave');
    assert.ok(await authLogged(c, 'dave', 'scram-sha-256'));
    // verified by hostname too
    const client = new pg.Client({ host: 'localhost', port: c.port, database: c.database, user: dave.name, password: dave.password, ssl });
    try {
      await client.connect();
    } catch (err) {
      // `localhost` may resolve to ::1 first while the server listens only on 127.0.0.1.
      if (!/ECONNREFUSED/.test((err as Error).message)) throw err;
    } finally {
      await client.end().catch(() => {});
    }
    await assertHbaForces(c, 'scram-sha-256', ['hostssl']);
  });
});

describe('pg-cluster harness: cleanup', () => {
  test('close() stops the server, removes its files, and is idempotent', async () => {
    const c = await startPgCluster({ auth: 'scram-sha-256', users: [] });
    assert.deepEqual(c.users, []);
    assert.ok(existsSync(c.dataDir));
    await c.close();
    await c.close();
    assert.ok(!existsSync(c.socketDir));
    await assert.rejects(connect(c, c.superuser));
  });
});
