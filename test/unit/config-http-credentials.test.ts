// Minted credentials in warden.yaml: the oauth2, google and aws forms load (a service-account
// key file read through ${file:...}), and mistakes name their key without echoing a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, ConfigError } from '../../src/config/load.ts';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const sa = { type: 'service_account', client_email: 'w@p.iam.gserviceaccount.com', private_key: privateKey, private_key_id: 'k1', token_uri: 'http://127.0.0.1:1/token' };
const http = (credential: unknown) => ({ name: 'api', type: 'http', url: 'https://api.example.com', credential });

function problems(credential: unknown): string {
  try {
    parseConfig({ connections: [http(credential)] });
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.join('\n');
  }
  return assert.fail('expected a ConfigError');
}

test('the three minted forms load; a key file read with ${file:...} is parsed, token_uri kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-sa-'));
  try {
    writeFileSync(join(dir, 'sa.json'), JSON.stringify(sa));
    const [o, g, a] = parseConfig({
      connections: [
        { ...http({ oauth2: { tokenUrl: 'https://idp.example.com/token', clientId: 'c', clientSecret: 's', scopes: ['a'] } }), name: 'o' },
        { ...http({ google: { serviceAccount: '${file:sa.json}', audience: 'https://svc.run.app' } }), name: 'g' },
        { ...http({ aws: { accessKeyId: 'AK', secretAccessKey: 'SK', region: 'eu-west-1' } }), name: 'a' },
      ],
    }, 'test', dir).connections;
    const cred = (c: typeof o) => (c!.type === 'http' ? c!.credential : undefined) as Record<string, Record<string, unknown>>;
    assert.equal(cred(o).oauth2!.auth, 'basic');
    assert.deepEqual(cred(g).google!.serviceAccount, { clientEmail: sa.client_email, privateKey, privateKeyId: 'k1', tokenUri: sa.token_uri });
    assert.equal(cred(a).aws!.service, 's3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mistakes name the key: a bad token URL, scopes and audience both, a broken key file, a bad region', () => {
  assert.match(problems({ oauth2: { tokenUrl: 'idp/token', clientId: 'c', clientSecret: 's' } }), /connections\.0\.credential\.oauth2\.tokenUrl: expected an http/);
  assert.match(problems({ oauth2: { tokenUrl: 'https://idp/token', clientId: 'c', clientSecret: 's', auth: 'digest' } }), /credential\.oauth2\.auth/);
  assert.match(problems({ google: { serviceAccount: sa, scopes: ['x'], audience: 'y' } }), /credential\.google: give scopes .* or audience/);
  assert.match(problems({ google: { serviceAccount: sa } }), /credential\.google: give scopes/);
  assert.match(problems({ google: { serviceAccount: { ...sa, client_email: undefined }, scopes: ['x'] } }), /credential\.google\.serviceAccount: client_email/);
  assert.match(problems({ google: { serviceAccount: { ...sa, type: 'authorized_user' }, scopes: ['x'] } }), /serviceAccount: type: expected a service-account key/);
  assert.match(problems({ aws: { accessKeyId: 'AK', secretAccessKey: 'SK', region: 'EU West' } }), /credential\.aws\.region: lower-case/);
  assert.match(problems({ aws: { accessKeyId: 'AK', region: 'eu-west-1' } }), /credential\.aws\.secretAccessKey/);
});

test('a broken service-account key is named, and nothing of it is echoed', () => {
  const broken = JSON.stringify({ ...sa, private_key: privateKey.split('\n').filter((_, i) => i !== 5).join('\n') });
  const out = problems({ google: { serviceAccount: broken, scopes: ['x'] } });
  assert.match(out, /credential\.google\.serviceAccount: private_key: not a PEM private key/);
  const notJson = problems({ google: { serviceAccount: `${privateKey}}`, scopes: ['x'] } });
  assert.match(notJson, /serviceAccount: expected the JSON of a service-account key file/);
  for (const o of [out, notJson]) assert.doesNotMatch(o, /BEGIN|MII/);
  // and a header credential's value is not echoed either
  assert.doesNotMatch(problems({ header: 'x-api-key', value: 1234567 }), /1234567/);
});
