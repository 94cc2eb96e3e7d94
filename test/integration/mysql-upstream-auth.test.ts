// The gateway's own login to the target, against a private mariadbd that forces each
// method: MariaDB's ed25519, mysql_native_password, a user that REQUIRES SSL (TLS verified
// against the test CA; refused without TLS or with another CA). caching_sha2_password,
// which MariaDB does not serve, is met at a second gateway's MySQL door (it asks for full
// authentication: in clear over TLS, RSA-encrypted without).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { startMariadb, type MariadbServer } from '../helpers/mariadb-server.ts';
import { makeCertificate } from '../helpers/tls.ts';

let server: MariadbServer;
let t: TestGateway;
let front: TestGateway;
let token: string;

const pw = { ed: `ed-${process.pid}-pw`, nat: `nat-${process.pid}-pw`, tls: `tls-${process.pid}-pw` };

before(async () => {
  server = await startMariadb({ tls: true, plugins: ['auth_ed25519'], args: ['--max-allowed-packet=64M'] });
  await server.admin(
    `CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('${pw.ed}');` +
      `CREATE USER 'nat'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${pw.nat}');` +
      `CREATE DATABASE big; CREATE TABLE big.blobs (id int, v longtext); GRANT ALL ON big.* TO 'nat'@'%';` +
      `CREATE USER 'tls'@'%' IDENTIFIED BY '${pw.tls}' REQUIRE SSL;`,
  );
  const otherCa = (await makeCertificate({ commonName: 'someone-else', altNames: ['elsewhere.test'] })).ca;
  const target = { host: server.host, port: server.port, access: { groups: ['dev'] } };
  // the second gateway, in front of the machine's MariaDB: its door speaks caching_sha2_password
  front = await startTestGateway({ connections: [localMysql('inner')] });
  const innerToken = await front.token(['dev'], 'chained');
  t = await startTestGateway({
    connections: [
      { name: 'ed', type: 'mysql', ...target, user: 'ed', password: pw.ed, tls: false },
      { name: 'nat', type: 'mysql', ...target, user: 'nat', password: pw.nat, tls: false },
      { name: 'tls', type: 'mysql', ...target, user: 'tls', password: pw.tls, tls: { mode: 'verify-full', ca: server.caCert } },
      { name: 'tls-off', type: 'mysql', ...target, user: 'tls', password: pw.tls, tls: false },
      { name: 'tls-wrong-ca', type: 'mysql', ...target, user: 'tls', password: pw.tls, tls: { mode: 'verify-full', ca: otherCa } },
      { name: 'nat-wrong', type: 'mysql', ...target, user: 'nat', password: 'not-it', tls: false },
      // a text over 1 MiB is not classified (onUnknown): allowed here to pass a large INSERT
      { name: 'big', type: 'mysql', ...target, user: 'nat', password: pw.nat, tls: false, onUnknown: 'allow' },
      { name: 'sha2-tls', type: 'mysql', host: '127.0.0.1', port: front.mysqlPort, user: 'inner', password: innerToken, tls: { mode: 'require' }, access: { groups: ['dev'] } },
      { name: 'sha2-rsa', type: 'mysql', host: '127.0.0.1', port: front.mysqlPort, user: 'inner', password: innerToken, tls: false, access: { groups: ['dev'] } },
    ],
  });
  token = await t.token(['dev'], 'upstream-auth');
});
after(async () => {
  await t?.close();
  await front?.close();
  await server?.close();
});

async function currentUser(connection: string): Promise<string> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: connection, password: token });
  try {
    const [rows] = await c.query('SELECT CURRENT_USER() AS u');
    return String((rows as { u: string }[])[0]!.u);
  } finally {
    await c.end();
  }
}

async function refusal(connection: string): Promise<string> {
  return mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: connection, password: token }).then(
    async (c) => {
      await c.end();
      return 'connected';
    },
    (e: Error) => e.message,
  );
}

test('MariaDB ed25519', async () => {
  assert.equal(await currentUser('ed'), 'ed@%');
});

test('mysql_native_password', async () => {
  assert.equal(await currentUser('nat'), 'nat@%');
  assert.match(await refusal('nat-wrong'), /cannot reach connection "nat-wrong": the target refused the connection: Access denied/);
});

test('TLS verified against the CA for a user that requires it; refused without TLS or with another CA', async () => {
  assert.equal(await currentUser('tls'), 'tls@%');
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'tls', password: token });
  try {
    const [rows] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    assert.match(String((rows as { Value: string }[])[0]!.Value), /TLS/);
  } finally {
    await c.end();
  }
  assert.match(await refusal('tls-off'), /cannot reach connection "tls-off": the target refused the connection: Access denied/);
  assert.match(await refusal('tls-wrong-ca'), /cannot reach connection "tls-wrong-ca": TLS to the target failed/);
});

test('caching_sha2_password full authentication, over TLS and under the server\'s RSA key', async () => {
  assert.equal(await currentUser('sha2-tls'), 'root@127.0.0.1');
  assert.equal(await currentUser('sha2-rsa'), 'root@127.0.0.1');
});

test('packets of 16 MiB and more pass both ways, split and joined again; a large value is still masked', async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'big', password: token });
  const n = 17_000_000;
  try {
    const [rows] = await c.query(`SELECT CONCAT(REPEAT('x', ${n}), ' ann@example.com') AS v`);
    const v = String((rows as { v: string }[])[0]!.v);
    assert.equal(v.length, n + ' [EMAIL]'.length);
    assert.ok(v.endsWith(' [EMAIL]'));
    await c.query('INSERT INTO big.blobs VALUES (1, ?)', ['y'.repeat(n)]);
    await c.execute('INSERT INTO big.blobs VALUES (?, ?)', [2, 'z'.repeat(n)]);
  } finally {
    await c.end();
  }
  assert.equal((await server.admin('SELECT GROUP_CONCAT(LENGTH(v) ORDER BY id) FROM big.blobs')).trim(), `${n},${n}`);
});
