// Issue 13, class 7: a secret whose keyword is one word of a longer identifier. A text
// column holds an env file, a properties file and a JSON config (a column name that says
// nothing, so only the text detectors can find them); read through a real gateway from the
// real Postgres, every secret is masked for the client AND in the record, the key names
// and the lines that hold no secret (counts, dates, a tokenizer name) come back as stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { recordedFor } from '../helpers/records.ts';
import { rawConnect, rowsOf, errorsOf, type RawPg } from '../helpers/raw-pg.ts';

let t: TestGateway;
let client: RawPg;
const db = `warden_keywords_${process.pid}`;

// The secrets, each under a key in another naming style.
const SECRETS: Record<string, string> = {
  DB_PASSWORD: 'hunter2xyz',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  PGPASSWORD: 'pgS3cret99',
  GITHUB_TOKEN: 'f3a9c1e7b2d84a6c9e0f1b2c3d4e5f6a7b8c9d0e',
  'spring.datasource.password': 's3cr3tValue',
  'app.jwtSigningKey': 'q9Wm2Lp7Zx4Rt8Kv3Nb6',
  clientSecret: 'c2VjcmV0LXZhbHVlLTEyMw',
  dbPassword: 'Tr0ub4dor&3',
  webhookSecret: 'Zx81kP0qLm2nR7aaQ',
};
const S = SECRETS;

const ENV_FILE = [
  `DB_PASSWORD=${S.DB_PASSWORD}`,
  `AWS_SECRET_ACCESS_KEY=${S.AWS_SECRET_ACCESS_KEY}`,
  `PGPASSWORD=${S.PGPASSWORD}`,
  `export GITHUB_TOKEN="${S.GITHUB_TOKEN}"`,
  'MAX_TOKENS=1024',
  'PASSWORD_RESET_SENT_AT=2024-01-01',
].join('\n');
const PROPERTIES = [
  `spring.datasource.password=${S['spring.datasource.password']}`,
  `app.jwtSigningKey = ${S['app.jwtSigningKey']}`,
  'app.tokenizer=bpe',
  'app.secretary=Jane',
].join('\n');
const JSON_CONFIG = JSON.stringify({ clientSecret: S.clientSecret, dbPassword: S.dbPassword, webhookSecret: S.webhookSecret, token_count: 42, passwordless: true });

/** A value as the masker writes it: a label such as [PASSWORD] or [SECRET:1f2e...]. */
const LABEL = /^\[[A-Z_]+(?::[0-9a-f]+)?\]$/;

before(async () => {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${db}`]);
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const setup = await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-c', `
    CREATE TABLE blobs (id int PRIMARY KEY, body text);
    INSERT INTO blobs VALUES (1, ${lit(ENV_FILE)}), (2, ${lit(PROPERTIES)}), (3, ${lit(JSON_CONFIG)});`]);
  assert.equal(setup.code, 0, setup.stderr);
  t = await startTestGateway({ connections: [localPostgres('keywords', { database: db })] });
  client = await rawConnect(t.pgPort, 'keywords', await t.token(['dev'], 'keywords-reader'));
});
after(async () => {
  client?.close();
  await t?.close();
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
});

/** The rows the record holds for a command. */
const recorded = async (sql: string): Promise<unknown[][]> => (await recordedFor(t, sql)).rows;

function assertNoSecret(what: unknown, context: string): void {
  const text = JSON.stringify(what);
  for (const [key, secret] of Object.entries(SECRETS)) {
    // the whole secret, and any 6-character piece of it (a value cut short leaks the rest)
    for (let i = 0; i + 6 <= secret.length; i++) assert.ok(!text.includes(secret.slice(i, i + 6)), `${context}: ${key}'s secret (${secret.slice(i, i + 6)}) came out in ${text}`);
  }
}

/** Each line (or JSON member) as stored, its value replaced by a label when it holds a secret. */
function assertMaskedLines(got: string, stored: string, separator: RegExp): void {
  const gotLines = got.split('\n');
  const storedLines = stored.split('\n');
  assert.equal(gotLines.length, storedLines.length, got);
  for (let i = 0; i < storedLines.length; i++) {
    const [key, value] = splitOnce(storedLines[i], separator);
    const secret = Object.values(SECRETS).some((s) => value.includes(s));
    if (!secret) {
      assert.equal(gotLines[i], storedLines[i], 'a line with no secret comes back as stored');
      continue;
    }
    const [gotKey, gotValue] = splitOnce(gotLines[i], separator);
    assert.equal(gotKey, key, 'the key name is kept');
    assert.match(gotValue.replace(/^"|"$/g, ''), LABEL, `the value of ${key} is masked: ${gotLines[i]}`);
  }
}

function splitOnce(line: string, separator: RegExp): [string, string] {
  const m = separator.exec(line);
  assert.ok(m, line);
  return [line.slice(0, m.index + m[0].length), line.slice(m.index + m[0].length)];
}

test('an env file, a properties file and a JSON config in a text column: secrets masked, key names kept', async () => {
  const sql = 'SELECT id, body FROM blobs ORDER BY id';
  const answers = await client.roundTrip({ type: 'Query', text: sql });
  assert.deepEqual(errorsOf(answers), []);
  const rows = rowsOf(answers);
  assert.equal(rows.length, 3);
  assertNoSecret(rows, 'the client');
  assertMaskedLines(rows[0][1]!, ENV_FILE, /=/);
  assertMaskedLines(rows[1][1]!, PROPERTIES, /\s*=\s*/);
  // The JSON config is still JSON, with every key and the non-secret values as stored.
  const json = JSON.parse(rows[2][1]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json), Object.keys(JSON.parse(JSON_CONFIG) as object));
  for (const k of ['clientSecret', 'dbPassword', 'webhookSecret']) assert.match(String(json[k]), LABEL, `${k}: ${rows[2][1]}`);
  assert.equal(json.token_count, 42);
  assert.equal(json.passwordless, true);

  const rec = await recorded(sql);
  assert.equal(rec.length, 3, JSON.stringify(rec));
  assertNoSecret(rec, 'the record');
  assert.ok(JSON.stringify(rec).includes('PGPASSWORD=') && JSON.stringify(rec).includes('app.jwtSigningKey = '), 'the record keeps the key names');
});
