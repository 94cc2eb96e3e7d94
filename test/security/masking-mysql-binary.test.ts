// A card kept in a MySQL number column is masked in the binary protocol (a prepared
// statement's rows) as in the text protocol: the MySQL engine reads its own binary numbers
// for the masker. Before the neutral value types, a BIGINT in a binary row passed unread.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestGateway, localMysql, type TestGateway } from '../helpers/gateway.ts';
import { resultsOf } from '../helpers/records.ts';

const db = `warden_mybin_${process.pid}`;
const CARD = '4539578763621486';
let t: TestGateway;
const root = () => mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });

before(async () => {
  const c = await root();
  await c.query(`CREATE DATABASE ${db}`);
  await c.query(`CREATE TABLE ${db}.payments (id BIGINT PRIMARY KEY, ref_no BIGINT, amount DECIMAL(20,2), ratio DOUBLE)`);
  await c.query(`INSERT INTO ${db}.payments VALUES (1, ${CARD}, ${CARD}.00, ${CARD}), (2, 42, 7.50, 0.5)`);
  await c.end();
  t = await startTestGateway({ connections: [localMysql('pay', { database: db })] });
});
after(async () => {
  await t?.close();
  const c = await root();
  await c.query(`DROP DATABASE IF EXISTS ${db}`);
  await c.end();
});

test('a card in BIGINT, DECIMAL and DOUBLE columns is masked in prepared (binary) and text rows; small numbers pass', async () => {
  const token = await t.token(['dev'], 'binary-reader');
  const c = await mysql.createConnection({ host: '127.0.0.1', port: t.mysqlPort, user: 'pay', password: token, database: db, supportBigNumbers: true, bigNumberStrings: true });
  try {
    const [bin] = await c.execute('SELECT id, ref_no, amount, ratio FROM payments WHERE id IN (?, ?) ORDER BY id', [1, 2]);
    const [txt] = await c.query('SELECT id, ref_no, amount, ratio FROM payments ORDER BY id');
    for (const rows of [bin, txt] as Record<string, unknown>[][]) {
      assert.doesNotMatch(JSON.stringify(rows[0]), /4539578763621486|4.539578763621486e\+?15/, JSON.stringify(rows[0]));
      assert.equal(String(rows[0]!.id), '1');
      assert.deepEqual([String(rows[1]!.ref_no), String(rows[1]!.amount), String(rows[1]!.ratio)], ['42', '7.50', '0.5'], JSON.stringify(rows));
    }
  } finally {
    await c.end();
  }
  // the record holds the masked rows too
  const recorded = JSON.stringify(await resultsOf(t, 'binary-reader'));
  assert.doesNotMatch(recorded, /4539578763621486/);
  // ground truth: the card is still in the table
  const r = await root();
  const [rows] = await r.query(`SELECT ref_no FROM ${db}.payments WHERE id = 1`);
  await r.end();
  assert.equal(String((rows as { ref_no: unknown }[])[0]!.ref_no), CARD);
});
