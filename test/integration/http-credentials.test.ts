// Credentials the gateway mints for an http connection, against local token endpoints and
// targets the test starts: an OAuth2 client-credentials token, a Google service-account token
// (access token and Cloud Run ID token, the JWT assertion verified with jose against the key's
// public half), and AWS SigV4 signatures checked by an independent signer (aws4). Ground truth
// is what the token endpoint and the target received, and what the record and logs hold.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { jwtVerify, type JWTPayload } from 'jose';
import aws4 from 'aws4';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startLocalHttp, type LocalHttp, type Received } from '../helpers/local-http.ts';
import { eventsOf } from '../helpers/records.ts';

const CLIENT_SECRET = 'p@ss:w rd+/é-0123456789';
const BAD_SECRET = 'very-secret-value-123';
const AWS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN' };
const SA_EMAIL = 'warden@proj.iam.gserviceaccount.com';
const RUN_AUDIENCE = 'https://my-svc-abc123.a.run.app';

let t: TestGateway;
let idp: LocalHttp;
let target: LocalHttp;
let dir: string;
const logs: string[] = [];
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
/** tokens the IdP gave out, by grant, in order */
const issued = { oauth: [] as string[], google: [] as string[] };
/** the Google assertions the IdP verified */
const assertions: JWTPayload[] = [];

before(async () => {
  let idpUrl = '';
  idp = await startLocalHttp(async (r) => {
    const form = new URLSearchParams(r.body);
    if (r.url === '/oauth/token') {
      if (form.get('grant_type') !== 'client_credentials') return { status: 400, json: { error: 'unsupported_grant_type' } };
      const [id, secret] = basicAuth(r) ?? [form.get('client_id'), form.get('client_secret')];
      if (id !== 'warden-gw' || secret !== CLIENT_SECRET) return { status: 401, json: { error: 'invalid_client' } };
      issued.oauth.push(`oa-${issued.oauth.length + 1}`);
      // slow enough that concurrent requests all wait on this one fetch
      return { json: { access_token: issued.oauth.at(-1), token_type: 'Bearer', expires_in: 3 }, delayMs: 150 };
    }
    if (r.url === '/google/token') {
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, json: { error: 'unsupported_grant_type' } };
      const { payload, protectedHeader } = await jwtVerify(form.get('assertion') ?? '', createPublicKey(publicKey), {
        algorithms: ['RS256'], issuer: SA_EMAIL, audience: `${idpUrl}/google/token`, maxTokenAge: '1h',
      }).catch(() => ({ payload: null, protectedHeader: null }));
      if (!payload) return { status: 400, json: { error: 'invalid_grant' } };
      assertions.push({ ...payload, kid: protectedHeader.kid } as JWTPayload);
      if (typeof payload.target_audience === 'string') {
        const idToken = [{ alg: 'RS256' }, { aud: payload.target_audience, exp: Math.floor(Date.now() / 1000) + 3600 }].map(b64).join('.') + '.c2ln';
        issued.google.push(idToken);
        return { json: { id_token: idToken } };
      }
      issued.google.push(`ya29.g-${issued.google.length + 1}`);
      return { json: { access_token: issued.google.at(-1), token_type: 'Bearer', expires_in: 3599 } };
    }
    if (r.url === '/bad/token') return { status: 401, json: { error: 'invalid_client', error_description: `client secret ${BAD_SECRET} is wrong` } };
    return { status: 404, json: { error: 'not_found' } };
  });
  idpUrl = idp.url;
  target = await startLocalHttp(() => ({ json: { ok: true } }));
  dir = mkdtempSync(join(tmpdir(), 'warden-creds-'));
  const saFile = join(dir, 'sa.json');
  writeFileSync(saFile, JSON.stringify({ type: 'service_account', project_id: 'proj', private_key_id: 'kid-1', private_key: privateKey, client_email: SA_EMAIL, token_uri: `${idp.url}/google/token` }));
  const gone = await startLocalHttp(() => ({}));
  await gone.close();
  const access = { groups: ['svc'] };
  const conn = (name: string, credential: unknown, url = target.url) => ({ name, type: 'http', url, credential, access });
  const oauth2 = { tokenUrl: `${idp.url}/oauth/token`, clientId: 'warden-gw', clientSecret: CLIENT_SECRET, scopes: ['read:things', 'write:things'], audience: 'https://api.internal' };
  t = await startTestGateway({
    log: pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, done) => (logs.push(c.toString()), done()) })),
    connections: [
      conn('oa', { oauth2 }),
      conn('oa-body', { oauth2: { ...oauth2, auth: 'body' } }),
      conn('bad-idp', { oauth2: { ...oauth2, tokenUrl: `${idp.url}/bad/token`, clientSecret: BAD_SECRET } }),
      conn('gone-idp', { oauth2: { ...oauth2, tokenUrl: `${gone.url}/token` } }),
      conn('gcp', { google: { serviceAccount: `\${file:${saFile}}`, scopes: ['https://www.googleapis.com/auth/cloud-platform'] } }),
      conn('run', { google: { serviceAccount: `\${file:${saFile}}`, audience: RUN_AUDIENCE } }),
      conn('s3', { aws: { ...AWS, region: 'eu-west-1', service: 's3' } }, `${target.url}/bucket`),
      conn('api', { aws: { accessKeyId: AWS.accessKeyId, secretAccessKey: AWS.secretAccessKey, region: 'us-east-1', service: 'execute-api' } }),
      conn('keyed', { query: 'key', value: 'query-secret-0123456789' }),
    ],
  });
});
after(async () => {
  await t?.close();
  await idp?.close();
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function basicAuth(r: Received): [string, string] | null {
  const m = /^Basic (.+)$/.exec(String(r.headers.authorization ?? ''));
  if (!m) return null;
  const [id, secret] = Buffer.from(m[1]!, 'base64').toString('utf8').split(/:(.*)/s, 2);
  // RFC 6749 2.3.1: both form-encoded before they are joined
  const dec = (s = '') => decodeURIComponent(s.replace(/\+/g, ' '));
  return [dec(id), dec(secret)];
}

/** A request as written (node:http sends the path untouched), through the gateway. */
function send(path: string, token: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(t.httpUrl);
    const headers = { authorization: `Bearer ${token}`, ...opts.headers, ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}) };
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const since = (s: LocalHttp, n: number) => s.seen.slice(n);
const errorMessage = (body: string) => (JSON.parse(body) as { error: { message: string } }).error.message;

test('OAuth2 client credentials: one token fetch for concurrent requests, sent as Bearer; a new one after it expires', async () => {
  const token = await t.token(['svc'], 'oauth-agent');
  // a first request through the gateway (another connection) so the six below arrive together
  assert.equal((await send('/proxy/keyed/warm-up', token)).status, 200);
  const idpBefore = idp.seen.length;
  const before = target.seen.length;
  const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => send(`/proxy/oa/things/${i}`, token)));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
  const fetches = since(idp, idpBefore);
  assert.equal(fetches.length, 1, 'one token fetch for six concurrent requests');
  const form = new URLSearchParams(fetches[0]!.body);
  assert.equal(form.get('scope'), 'read:things write:things');
  assert.equal(form.get('audience'), 'https://api.internal');
  assert.equal(form.get('client_secret'), null, 'the secret went in Basic auth, not the form');
  assert.deepEqual(basicAuth(fetches[0]!), ['warden-gw', CLIENT_SECRET]);
  const got = since(target, before);
  assert.equal(got.length, 6);
  for (const r of got) {
    assert.equal(r.headers.authorization, `Bearer ${issued.oauth.at(-1)}`);
    assert.doesNotMatch(JSON.stringify(r.headers), new RegExp(token), 'the Warden token never reaches the target');
  }
  // the token lives 3 s: past that, the next request fetches a new one
  await new Promise((r) => setTimeout(r, 3100));
  const first = issued.oauth.at(-1);
  assert.equal((await send('/proxy/oa/things/again', token)).status, 200);
  assert.equal(since(idp, idpBefore).length, 2);
  assert.notEqual(issued.oauth.at(-1), first);
  assert.equal(target.seen.at(-1)!.headers.authorization, `Bearer ${issued.oauth.at(-1)}`);
});

test('OAuth2 with the client secret in the form (auth: body)', async () => {
  const token = await t.token(['svc'], 'oauth-body-agent');
  const idpBefore = idp.seen.length;
  assert.equal((await send('/proxy/oa-body/x', token)).status, 200);
  const [fetch] = since(idp, idpBefore);
  assert.equal(fetch!.headers.authorization, undefined);
  const form = new URLSearchParams(fetch!.body);
  assert.equal(form.get('client_id'), 'warden-gw');
  assert.equal(form.get('client_secret'), CLIENT_SECRET);
  assert.equal(target.seen.at(-1)!.headers.authorization, `Bearer ${issued.oauth.at(-1)}`);
});

test('Google service account: a signed JWT assertion (iss, scope, aud = token_uri, exp) traded for an access token', async () => {
  const token = await t.token(['svc'], 'gcp-agent');
  const n = assertions.length;
  const r = await send('/proxy/gcp/v1/projects/proj/buckets', token);
  assert.equal(r.status, 200, r.body);
  const [a] = assertions.slice(n);
  assert.ok(a, 'the IdP verified an assertion');
  assert.equal(a.scope, 'https://www.googleapis.com/auth/cloud-platform');
  assert.equal(a.target_audience, undefined);
  assert.equal(a.kid, 'kid-1');
  assert.ok(a.exp! - a.iat! <= 3600 && a.exp! > Date.now() / 1000);
  assert.equal(target.seen.at(-1)!.headers.authorization, `Bearer ${issued.google.at(-1)}`);
  assert.match(issued.google.at(-1)!, /^ya29\./);
  // cached: a second request sends the same token without a new grant
  assert.equal((await send('/proxy/gcp/v1/other', token)).status, 200);
  assert.equal(assertions.length, n + 1);
});

test('Google service account with an audience: an ID token for Cloud Run (target_audience in the assertion)', async () => {
  const token = await t.token(['svc'], 'run-agent');
  const n = assertions.length;
  assert.equal((await send('/proxy/run/hello', token)).status, 200);
  const [a] = assertions.slice(n);
  assert.equal(a!.target_audience, RUN_AUDIENCE);
  assert.equal(a!.scope, undefined);
  const idToken = issued.google.at(-1)!;
  assert.equal(idToken.split('.').length, 3);
  assert.equal(target.seen.at(-1)!.headers.authorization, `Bearer ${idToken}`);
});

test('a token endpoint that refuses, or cannot be reached: 502 naming the connection, never the secret; nothing reaches the target', async () => {
  const token = await t.token(['svc'], 'unlucky-agent');
  const before = target.seen.length;
  const bad = await send('/proxy/bad-idp/x', token);
  assert.equal(bad.status, 502);
  assert.match(errorMessage(bad.body), /connection "bad-idp".*token endpoint answered 401 \(invalid_client\)/);
  assert.doesNotMatch(bad.body, new RegExp(`${BAD_SECRET}|${CLIENT_SECRET}`));
  const gone = await send('/proxy/gone-idp/x', token);
  assert.equal(gone.status, 502);
  assert.match(errorMessage(gone.body), /connection "gone-idp".*could not be reached/);
  assert.equal(target.seen.length, before, 'nothing reached the target');
});

/** Recompute the request's signature with aws4 from what the target received; `tamper` changes the request first. */
function aws4Agrees(r: Received, region: string, service: string, creds: typeof AWS | Omit<typeof AWS, 'sessionToken'>, tamper?: (req: { method: string; path: string; headers: Record<string, string> }) => void): boolean {
  const auth = String(r.headers.authorization);
  const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (const h of signed) headers[h] = String(r.headers[h]);
  const req = { method: r.method, path: r.url, headers };
  tamper?.(req);
  return aws4.sign({ ...req, host: String(r.headers.host), service, region }, creds).headers.Authorization === auth;
}

test('AWS SigV4: each request signed as it leaves (path and query as the target gets them); aws4 agrees, and a tampered request fails', async () => {
  const token = await t.token(['svc'], 's3-agent');
  const before = target.seen.length;
  // a caller's own signing headers and presigned-query parameters are dropped, its x-amz-meta kept
  const callerSigning = { 'x-amz-date': '19990101T000000Z', 'x-amz-security-token': 'caller-own-token', 'x-amz-content-sha256': 'deadbeef', 'x-amz-meta-owner': 'ada' };
  const list = await send('/proxy/s3/photos/2024%20summer/%C3%A4%20(1).txt?list-type=2&prefix=photos%2F2024%20summer%2F&marker=a+b&x=%C3%A9%E2%82%AC&empty=&flag&X-Amz-Signature=forged', token, { headers: callerSigning });
  assert.equal(list.status, 200, list.body);
  const put = await send('/proxy/s3/reports/q3.csv', token, { method: 'PUT', body: 'id,total\n1,42\n', headers: { 'content-type': 'text/csv' } });
  assert.equal(put.status, 200, put.body);
  const [g, p] = since(target, before);
  assert.equal(g!.url, '/bucket/photos/2024%20summer/%C3%A4%20%281%29.txt?empty=&flag=&list-type=2&marker=a%20b&prefix=photos%2F2024%20summer%2F&x=%C3%A9%E2%82%AC');
  assert.equal(g!.headers['x-amz-security-token'], AWS.sessionToken);
  assert.notEqual(g!.headers['x-amz-date'], '19990101T000000Z');
  assert.equal(g!.headers['x-amz-content-sha256'], 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'no body: the hash of nothing');
  assert.equal(g!.headers['x-amz-meta-owner'], 'ada');
  assert.match(String(g!.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-owner;x-amz-security-token, Signature=[0-9a-f]{64}$/);
  assert.ok(aws4Agrees(g!, 'eu-west-1', 's3', AWS), 'aws4 computes the same signature');
  assert.equal(p!.body, 'id,total\n1,42\n');
  assert.equal(p!.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  assert.ok(aws4Agrees(p!, 'eu-west-1', 's3', AWS));
  // the check can fail: a changed path, query, method or signed header gives another signature
  assert.equal(aws4Agrees(g!, 'eu-west-1', 's3', AWS, (r) => (r.path = r.path.replace('summer', 'winter'))), false);
  assert.equal(aws4Agrees(g!, 'eu-west-1', 's3', AWS, (r) => (r.path = r.path.replace('list-type=2', 'list-type=1'))), false);
  assert.equal(aws4Agrees(p!, 'eu-west-1', 's3', AWS, (r) => (r.method = 'DELETE')), false);
  assert.equal(aws4Agrees(g!, 'eu-west-1', 's3', AWS, (r) => (r.headers['x-amz-meta-owner'] = 'eve')), false);
  assert.equal(aws4Agrees(g!, 'eu-west-1', 's3', { ...AWS, secretAccessKey: 'another-secret' }), false);
  for (const r of [g!, p!]) assert.doesNotMatch(JSON.stringify(r.headers), new RegExp(token));
});

test('AWS SigV4 for a service other than S3: the path is signed encoded twice, as AWS asks; aws4 agrees', async () => {
  const token = await t.token(['svc'], 'api-agent');
  const r = await send('/proxy/api/prod/items/a%20b%2B?q=x%20y', token);
  assert.equal(r.status, 200, r.body);
  const got = target.seen.at(-1)!;
  assert.equal(got.url, '/prod/items/a%20b%2B?q=x%20y');
  assert.equal(got.headers['x-amz-security-token'], undefined);
  assert.ok(aws4Agrees(got, 'us-east-1', 'execute-api', { accessKeyId: AWS.accessKeyId, secretAccessKey: AWS.secretAccessKey }));
});

test('no secret in the record or the logs: minted tokens, signatures, keys, the query credential', async () => {
  const token = await t.token(['svc'], 'keyed-agent');
  assert.equal((await send('/proxy/keyed/maps?q=berlin', token)).status, 200);
  assert.equal(new URL(target.seen.at(-1)!.url, 'http://x').searchParams.get('key'), 'query-secret-0123456789');
  await t.gw.services.audit.flush();
  const events = [];
  for (const who of ['oauth-agent', 'oauth-body-agent', 'gcp-agent', 'run-agent', 'unlucky-agent', 's3-agent', 'api-agent', 'keyed-agent']) events.push(...(await eventsOf(t, who)));
  assert.ok(events.length > 10);
  const record = JSON.stringify(events);
  const signatures = target.seen.map((r) => /Signature=([0-9a-f]+)/.exec(String(r.headers.authorization))?.[1]).filter(Boolean) as string[];
  const secrets = [CLIENT_SECRET, BAD_SECRET, AWS.secretAccessKey, AWS.sessionToken, 'query-secret-0123456789', 'caller-own-token', ...issued.oauth, ...issued.google, ...signatures, privateKey.split('\n')[1]!];
  for (const s of secrets) {
    assert.ok(!record.includes(s), `the record holds no ${s.slice(0, 6)}...`);
    assert.ok(!logs.join('').includes(s), `the logs hold no ${s.slice(0, 6)}...`);
  }
  // the caller's signing headers are kept in the record, the token among them redacted
  const start = (await eventsOf(t, 's3-agent')).find((e) => e.type === 'session.start')!;
  const sent = JSON.parse(String((start.data.attributes as Record<string, string>).requestHeaders)) as Record<string, string>;
  assert.equal(sent['x-amz-security-token'], '[REDACTED]');
  assert.equal(sent.authorization, '[REDACTED]');
  assert.ok(logs.some((l) => l.includes('bad-idp')), 'the failure was logged, by connection');
});
