// `warden login` client flows against the in-process OpenID provider: the browser step
// and the device approval are played headlessly by the test helper.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOidcProvider, completeBrowserLogin, approveDeviceCode, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { loginWithBrowser, loginWithDevice, getAccessToken, logout, whoami, type LoginConfig } from '../../src/identity/login.ts';
import { credentialsPath, loadCredentials } from '../../src/identity/login-store.ts';
import { browserOpener, startLoopbackListener } from '../../src/identity/login-browser.ts';
import { createOidcVerifier } from '../../src/identity/oidc.ts';

let idp: TestOidcProvider;
before(async () => {
  idp = await startOidcProvider();
});
after(() => idp.close());

/**
 * Log in through the loopback redirect with the headless "browser" playing `account`.
 * A failure of the browser step fails the login at once (instead of leaving the
 * listener waiting for a redirect that will never come).
 */
async function browserLogin(c: LoginConfig, account: string, onUrl?: (url: string) => void) {
  let failBrowser: (e: unknown) => void = () => {};
  const browserFailed = new Promise<never>((_, reject) => (failBrowser = reject));
  return Promise.race([
    loginWithBrowser(c, {
      openBrowser: false,
      timeoutMs: 60_000,
      onUrl: (url) => {
        onUrl?.(url);
        // Not awaited by the login: it resolves once the listener has the code.
        completeBrowserLogin(url, account, { deliver: true }).catch(failBrowser);
      },
    }),
    browserFailed,
  ]);
}

function cfg(): LoginConfig {
  const path = join(mkdtempSync(join(tmpdir(), 'warden-login-')), 'warden', 'credentials.json');
  return { issuer: idp.issuer, clientId: idp.cliClientId, scope: 'openid email profile groups offline_access', path };
}

test('browser login: auth code + PKCE via loopback redirect, stored 0600, token verifies at the gateway', async () => {
  const c = cfg();
  let shownUrl = '';
  // The "browser": log in as bob and follow the redirect to the CLI's loopback listener.
  const creds = await browserLogin(c, 'bob', (url) => (shownUrl = url));
  const u = new URL(shownUrl);
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
  assert.match(u.searchParams.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
  assert.ok(creds.refreshToken && creds.idToken);
  assert.equal(statSync(c.path!).mode & 0o777, 0o600);
  assert.equal(statSync(join(c.path!, '..')).mode & 0o777, 0o700);
  assert.equal(JSON.parse(readFileSync(c.path!, 'utf8')).accessToken, creds.accessToken);

  const v = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  const id = await v.verify(await getAccessToken(c));
  assert.equal(id.subject, `${idp.issuer}#bob`);
  assert.deepEqual(id.groups, ['engineers']);

  const me = whoami(c.path);
  assert.equal(me?.name, 'bob@example.test');
  assert.deepEqual(me?.groups, ['engineers']);
});

test('refresh: an access token about to expire is replaced using the refresh token', async () => {
  const c = cfg();
  await browserLogin(c, 'alice');
  const before = loadCredentials(c.path)!;
  const still = await getAccessToken(c, 60);
  assert.equal(still, before.accessToken, 'a fresh token is used as is');
  const refreshed = await getAccessToken(c, 10 * 24 * 3600); // "must stay valid 10 days": forces a refresh
  assert.notEqual(refreshed, before.accessToken);
  const after = loadCredentials(c.path)!;
  assert.equal(after.accessToken, refreshed);
  assert.ok(after.idToken, 'the ID token is kept when the refresh response has none');
  const v = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  assert.equal((await v.verify(refreshed)).subject, `${idp.issuer}#alice`);
});

test('device flow: the user code approved headlessly yields stored, verifiable tokens', async () => {
  const c = cfg();
  let userCode = '';
  const creds = await loginWithDevice(c, {
    onCode: async (info) => {
      userCode = info.userCode;
      assert.ok(info.verificationUri.startsWith(idp.issuer));
      await approveDeviceCode(idp.issuer, info.userCode, 'alice');
    },
  });
  assert.match(userCode, /^[A-Z]{4}-[A-Z]{4}$/);
  const v = await createOidcVerifier({ issuer: idp.issuer, audience: idp.audience });
  const id = await v.verify(creds.accessToken);
  assert.equal(id.subject, `${idp.issuer}#alice`);
  assert.deepEqual(id.groups, ['admins', 'engineers']);
  assert.equal(statSync(c.path!).mode & 0o777, 0o600);
});

test('logout deletes the stored login and revokes the refresh token at the IdP', async () => {
  const c = cfg();
  const creds = await browserLogin(c, 'bob');
  assert.equal(await logout(c), true);
  assert.equal(loadCredentials(c.path), null);
  assert.equal(whoami(c.path), null);
  assert.equal(await logout(c), false);
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.refreshToken!, client_id: idp.cliClientId }),
  });
  assert.equal(res.status, 400, 'the revoked refresh token no longer works');
  await assert.rejects(getAccessToken(c), /not logged in/);
});

test('credentials path follows XDG_CONFIG_HOME, else ~/.config', () => {
  assert.equal(credentialsPath({ XDG_CONFIG_HOME: '/x/cfg' }), '/x/cfg/warden/credentials.json');
  if (process.platform !== 'win32') assert.equal(credentialsPath({ HOME: '/home/u' }), '/home/u/.config/warden/credentials.json');
});

test('no browser is launched on a headless Linux machine', () => {
  assert.equal(browserOpener({ PATH: process.env.PATH }, 'linux'), undefined);
  assert.equal(browserOpener({ PATH: '/nonexistent', DISPLAY: ':0' }, 'linux'), undefined);
});

test('the loopback listener ignores requests without the expected state', async () => {
  const l = await startLoopbackListener({ expectedState: 'good', timeoutMs: 10_000 });
  try {
    const bad = await fetch(`${l.redirectUri}?code=stolen&state=evil`);
    assert.equal(bad.status, 404);
    const ok = await fetch(`${l.redirectUri}?code=c1&state=good`);
    assert.equal(ok.status, 200);
    assert.equal((await l.callback).searchParams.get('code'), 'c1');
  } finally {
    l.close();
  }
});
