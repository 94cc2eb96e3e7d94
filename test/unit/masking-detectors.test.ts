// Each detector on hand-picked values: what must be masked, and the near misses that must not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMasker } from '../../src/masking/index.ts';

const m = compileMasker({});

function masked(input: string, expected: string): void {
  assert.equal(m.maskText(input), expected, `input: ${input}`);
}
function untouched(input: string): void {
  assert.equal(m.maskText(input), input, `should stay: ${input}`);
}

test('email', () => {
  masked('mail john.doe+tag@mail.example.co.uk now', 'mail [EMAIL] now');
  masked('Reply to A@B.io.', 'Reply to [EMAIL].');
  untouched('icon@2x.png');
  untouched('root@localhost');
  untouched('price @ 3.99');
  // The checks made while walking each side once: "..", leading and trailing dots, the TLD.
  masked('..john@example.com', '..[EMAIL]');
  masked('see a@example.com..', 'see [EMAIL]..');
  masked('jürgen@example.de', '[EMAIL]');
  untouched('jo..hn@example.com');
  untouched('john.@example.com');
  untouched('john@example..com');
  untouched('john@.example.com');
  untouched('john@-example.com');
  untouched('john@example.c0m');
  untouched('john@example.c');
  untouched('john@example.JSON');
  untouched(`john@example.${'a'.repeat(25)}`);
});

test('phone: international and national formats', () => {
  for (const p of ['+1 (415) 555-2671', '+14155552671', '(415) 555-2671', '415-555-2671', '415.555.2671', '+44 20 7946 0958', '020 7946 0958', '07700 900123', '01 23 45 67 89', '+49 30 1234567', '0044 20 7946 0958']) {
    masked(`call ${p} today`, 'call [PHONE] today');
  }
  for (const n of ['2024-01-15', '10:23:45', 'order 4155552671', '123-456-7890', '000-83-9453', '1.2.3', 'ISBN 978-3-16-148410-0']) untouched(n);
});

test('card: Luhn, issuer prefix, grouping', () => {
  masked('4111 1111 1111 1111', '[CARD]');
  masked('card:4242-4242-4242-4242.', 'card:[CARD].');
  masked('amex 3782 822463 10005', 'amex [CARD]');
  masked('5555555555554444', '[CARD]');
  untouched('4111 1111 1111 1112'); // Luhn fails
  untouched('9111111111111111111'); // no issuer
  untouched('41 111 111 111 111 11'); // not a card grouping
  untouched('order #4111111111111111'); // a reference
  untouched('1705314225123'); // epoch milliseconds
});

test('IBAN: country length and mod 97', () => {
  masked('pay to DE89 3704 0044 0532 0130 00 please', 'pay to [IBAN] please');
  masked('GB82WEST12345698765432', '[IBAN]');
  masked('NL91ABNA0417164300', '[IBAN]');
  untouched('DE89 3704 0044 0532 0130 01');
  untouched('DE8937040044053201300'); // one digit short for DE
});

test('SSN: never-issued ranges rejected', () => {
  masked('ssn 123-45-6789', 'ssn [SSN]');
  masked('536 22 1234', '[SSN]');
  for (const s of ['000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000', '078-05-1120', '123456789']) untouched(s);
});

test('IP addresses', () => {
  masked('from 192.168.1.20:5432', 'from [IP]:5432');
  masked('host 2001:db8::8a2e:370:7334 up', 'host [IP] up');
  masked('fe80::1%eth0', '[IP]%eth0');
  for (const s of ['listening on 0.0.0.0:8080', 'http://127.0.0.1:5432', '[::1]:80', '10:23:45', '00:1a:2b:3c:4d:5e', 'v1.2.3.4', 'version 10.0.0.1', '4.7.2.0', '256.1.1.1', 'std::vector']) untouched(s);
});

test('date of birth by context', () => {
  masked('DOB: 1985-03-12', 'DOB: [DOB]');
  masked('date of birth 12/03/1985', 'date of birth [DOB]');
  masked('born on March 12, 1985', 'born on [DOB]');
  untouched('shipped 2024-03-12');
});

test('AWS keys', () => {
  masked('AKIAIOSFODNN7EXAMPLE', '[AWS_KEY]');
  masked('AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '[AWS_KEY],[AWS_SECRET]');
  masked('aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key = [AWS_SECRET]');
  untouched('digest wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'); // 40 base64 chars, no context
});

test('vendor API tokens', () => {
  const tokens = [
    `ghp_${'a1B2'.repeat(9)}`,
    `github_pat_${'A1b2C3d4E5'.repeat(8)}xy`,
    'glpat-abcDEF123456ghiJKL78',
    'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
    `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`,
    'AIzaSyA-1234567890abcdefghijklmnopqrstu',
    `sk-proj-${'Ab3'.repeat(16)}`,
    `sk-ant-api03-${'x9Y'.repeat(31)}AA`,
  ];
  for (const t of tokens) masked(`key ${t} end`, 'key [API_TOKEN] end');
  untouched('sk-learn is a library'); // too short after the prefix
  untouched('internationalization');
});

test('JWT and PEM private keys', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
  masked(`Authorization: Bearer ${jwt}`, 'Authorization: Bearer [JWT]');
  untouched('eyJub3QiOiJqd3QifQ.eyJhIjoxfQ.sig'); // header without alg/typ
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc==\n-----END RSA PRIVATE KEY-----';
  masked(`key:\n${pem}\ndone`, 'key:\n[PRIVATE_KEY]\ndone');
  masked('-----BEGIN PRIVATE KEY-----\nMIIEv', '[PRIVATE_KEY]'); // truncated value: masked to the end
  untouched('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
});

test('passwords in URLs and connection strings', () => {
  masked('postgres://app:s3cr3t@db:5432/app', 'postgres://app:[PASSWORD]@db:5432/app');
  masked('redis://:p@ss#1@cache:6379', 'redis://:[PASSWORD]@cache:6379');
  masked('host=db user=app password=hunter2 dbname=app', 'host=db user=app password=[PASSWORD] dbname=app');
  masked("DB_PASSWORD='pa55'", "DB_PASSWORD='[PASSWORD]'");
  untouched('https://example.com/path?q=1');
  untouched('password: ********');
  untouched('passwordless: true');
  untouched('password_updated_at: 2024-01-01');
  untouched('WHERE password = ?');
});

test('generic secrets next to a keyword', () => {
  masked('api_key=Zx81kP0qLm2nR7', 'api_key=[SECRET]');
  masked('{"client_secret": "c2VjcmV0LXZhbHVlLTEyMw"}', '{"client_secret": "[SECRET]"}');
  masked('Authorization: Bearer abcDEF123456ghiJKL789', 'Authorization: Bearer [SECRET]');
  masked('X-Api-Key: 9f8e7d6c5b4a39281706', 'X-Api-Key: [SECRET]');
  masked('Authorization: Basic dXNlcjpwYXNzd29yZA==', 'Authorization: Basic [SECRET]');
  masked('SECRET_KEY_BASE=9f8e7d6c5b4a3928170abc', 'SECRET_KEY_BASE=[SECRET]');
  untouched('auth_method=scram-sha-256');
  untouched('token_type: bearer');
  untouched('author: J. R. R. Tolkien');
  untouched('token: expired');
  untouched('token_count: 12345678');
  untouched('the secret ingredient is love');
  untouched('commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3');
});

test('clean text comes back as the same instance', () => {
  const s = 'John Smith, 42 items, shipped on Tuesday';
  assert.equal(m.maskText(s), s);
  assert.ok(Object.is(m.maskText(s), s));
});

// Issue 13, class 7: the keyword is one word of a longer identifier (env-file, config,
// JSON, header and flag styles). The key name stays, the value is masked.
test('keyword secrets inside longer identifiers', () => {
  masked('AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AWS_SECRET_ACCESS_KEY=[AWS_SECRET]');
  masked('DB_PASSWORD=hunter2xyz', 'DB_PASSWORD=[PASSWORD]');
  masked('export GITHUB_TOKEN="f3a9c1e7b2d84a6c9e0f1b2c3d4e5f6a7b8c9d0e"', 'export GITHUB_TOKEN="[SECRET]"');
  masked('stripe_api_key: Zx81kP0qLm2nR7aa', 'stripe_api_key: [SECRET]');
  masked('stripe_api_key: sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'stripe_api_key: [API_TOKEN]');
  masked('{"clientSecret": "c2VjcmV0LXZhbHVlLTEyMw"}', '{"clientSecret": "[SECRET]"}');
  masked('MYSQL_ROOT_PASSWORD: r00tPassw0rd', 'MYSQL_ROOT_PASSWORD: [PASSWORD]');
  masked('spring.datasource.password=s3cr3tValue', 'spring.datasource.password=[PASSWORD]');
  masked('PGPASSWORD=pgS3cret99', 'PGPASSWORD=[PASSWORD]');
  masked('--password=hunter2xyz', '--password=[PASSWORD]');
  masked('app.jwtSigningKey = q9Wm2Lp7Zx4Rt8Kv3Nb6', 'app.jwtSigningKey = [SECRET]');
  masked('X-Api-Key: 9f8e7d6c5b4a39281706', 'X-Api-Key: [SECRET]');
  // camelCase, kebab-case, dotted and SCREAMING_SNAKE forms in general
  masked('dbPassword: hunter2xyz', 'dbPassword: [PASSWORD]');
  masked('db-password: hunter2xyz', 'db-password: [PASSWORD]');
  masked('accessToken=Zx81kP0qLm2nR7aa', 'accessToken=[SECRET]');
  masked('webhookSecret: Zx81kP0qLm2nR7aa', 'webhookSecret: [SECRET]');
  masked('encryptionKey=Zx81kP0qLm2nR7aa', 'encryptionKey=[SECRET]');
  masked('MYSQLPASSWORD=hunter2xyz', 'MYSQLPASSWORD=[PASSWORD]');
  masked('app.secretKey=Zx81kP0qLm2nR7aa', 'app.secretKey=[SECRET]');
  masked('password_old=Hunter2xyz', 'password_old=[PASSWORD]');
  masked('stripeApiKey: Zx81kP0qLm2nR7aa', 'stripeApiKey: [SECRET]');
  masked('awsSecretAccessKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'awsSecretAccessKey: [AWS_SECRET]');
  masked('SIGNING_KEY=Zx81kP0qLm2nR7aa', 'SIGNING_KEY=[SECRET]');
  // a quoted value runs to its closing quote, '&' and spaces included
  masked('masterPassword: "Tr0ub4dor&3"', 'masterPassword: "[PASSWORD]"');
  masked('{"password":"pa\\"ss&x","user":"bob"}', '{"password":"[PASSWORD]","user":"bob"}');
  masked('url?password=abc&user=bob', 'url?password=[PASSWORD]&user=bob');
});

test('keyword look-alikes inside longer identifiers stay', () => {
  for (const s of [
    'password_reset_sent_at = 2024-01-01',
    'passwordResetSentAt: 2024-01-01T10:00:00Z',
    'token_count: 42',
    'tokenCount=42',
    'secretary=Jane',
    'keyboard=us',
    'passwordless=true',
    'passwordless_mode=email',
    'tokenizer=bpe',
    'tokenizer_model=bpe-v2',
    'max_tokens=1024',
    'inputTokens: 1523',
    'api_key_id=17',
    'apiKeyId: 17',
    'api_key_name=production',
    'password_min_length=12',
    'passwordPolicy=strict',
    'PASSWORD_HASH_ALGO=argon2id',
    'password_file=/run/secrets/db',
    'password_old=2024-01-01',
    'secret_name=db-creds',
    'tokenExpiresAt=1712345678',
    'primaryKey=id',
    'primary_key=Zx81kP0qLm2nR7aa',
    'PWD=/home/app',
    'OLDPWD=/srv/app',
    'bypass=Zx81kP0qLm2nR7aa',
    'credentials_path=/etc/app/creds.json',
  ]) untouched(s);
});
